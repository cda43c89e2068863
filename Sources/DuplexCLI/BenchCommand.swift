import ArgumentParser
import Duplex
import DuplexBench
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `duplex bench`: the WebSocket load generator.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "WebSocket load generator: echo, broadcast, connect and Socket.IO scenarios; JSON codec comparison.",
        discussion: """
            Measures a server on this machine over loopback: messages/s, latency percentiles (HdrHistogram), \
            and with --server-pid the server's CPU time, so servers can be compared per server CPU-second. \
            Exits non-zero when the server cannot be reached, refuses the upgrade, closes connections, or \
            loses or mangles messages.
            """,
        subcommands: [BenchEcho.self, BenchBroadcast.self, BenchConnect.self, BenchSocketIO.self, BenchChat.self, BenchJSON.self]
    )
}

struct BenchCommonOptions: ParsableArguments {
    @Option(help: "Server address (loopback only).") var host = "127.0.0.1"
    @Option(help: "Server port; repeat it to spread the connections round-robin over several servers (the nodes of a cluster).")
    var port: [Int] = [3000]
    @Option(help: "Request path (default: / , or the Engine.IO path for socketio).") var path: String?
    @Option(help: "Generator event loops (threads); default: one per core.") var threads: Int?
    @Option(help: "Seconds of load before the measured window.") var warmup = 2.0
    @Option(help: "Seconds in the measured window.") var duration = 10.0
    @Option(help: "The server's PID, for its CPU time and RSS (from /proc); repeat it for several servers (summed).")
    var serverPID: [Int32] = []
    @Option(help: "Most connections handshaking at once.") var concurrency = 64
    @Option(help: "Name of this run in the output.") var label = "bench"
    @Flag(help: "Print the result as JSON on stdout (the progress line still goes to stderr).") var json = false
    @Flag(help: "No progress line.") var quiet = false

    func benchOptions(defaultPath: String = "/") -> BenchOptions {
        var options = BenchOptions()
        options.host = host
        options.ports = port
        options.path = path ?? defaultPath
        if let threads { options.threads = threads }
        options.warmup = warmup
        options.duration = duration
        options.serverPIDs = serverPID
        options.connectConcurrency = concurrency
        options.label = label
        options.progress = !quiet
        return options
    }

    func report(_ work: () async throws -> BenchResult) async throws {
        ProcessStats.raiseFileLimit()
        let result: BenchResult
        do {
            result = try await work()
        } catch {
            printError("duplex bench: error: \(error)")
            throw ExitCode(2)
        }
        print(json ? result.json() : result.summary)
        if !result.ok {
            printError("duplex bench: the run FAILED: \(result.firstError ?? "missing, malformed or unexpected messages")")
            throw ExitCode.failure
        }
    }
}

func printError(_ message: String) {
    writeStandardError(message + "\n")
}

struct BroadcastOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .long], help: "Connections; every one receives every message.") var connections = 100
    @Option(help: "Connections that also publish.") var publishers = 1
    @Option(name: [.customShort("s"), .long], help: "Message size in bytes (at least 24: send time and publisher id).") var size = 32
    @Option(help: "Own messages in flight per publisher (the next goes when its own copy returns).") var window = 1
    @Option(help: "Grow: add this many connections per step until p95 passes --p95-bound.") var growBy: Int?
    @Option(help: "Growth bound on p95 delivery latency, in milliseconds.") var p95Bound = 100.0
    @Option(help: "Growth stops at this many connections.") var maxConnections = 10_000

    var parameters: Bench.BroadcastParameters {
        var parameters = Bench.BroadcastParameters()
        parameters.connections = connections
        parameters.publishers = publishers
        parameters.size = size
        parameters.window = window
        parameters.growthStep = growBy
        parameters.p95Bound = UInt64(p95Bound * 1000)
        parameters.maxConnections = maxConnections
        return parameters
    }
}

