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
        subcommands: [BenchEcho.self, BenchBroadcast.self, BenchConnect.self, BenchSocketIO.self, BenchJSON.self]
    )
}

struct BenchCommonOptions: ParsableArguments {
    @Option(help: "Server address (loopback only).") var host = "127.0.0.1"
    @Option(help: "Server port.") var port = 3000
    @Option(help: "Request path (default: / , or the Engine.IO path for socketio).") var path: String?
    @Option(help: "Generator event loops (threads); default: one per core.") var threads: Int?
    @Option(help: "Seconds of load before the measured window.") var warmup = 2.0
    @Option(help: "Seconds in the measured window.") var duration = 10.0
    @Option(help: "The server's PID, for its CPU time and RSS (from /proc).") var serverPID: Int32?
    @Option(help: "Most connections handshaking at once.") var concurrency = 64
    @Option(help: "Name of this run in the output.") var label = "bench"
    @Flag(help: "Print the result as JSON on stdout (the progress line still goes to stderr).") var json = false
    @Flag(help: "No progress line.") var quiet = false

    func benchOptions(defaultPath: String = "/") -> BenchOptions {
        var options = BenchOptions()
        options.host = host
        options.port = port
        options.path = path ?? defaultPath
        if let threads { options.threads = threads }
        options.warmup = warmup
        options.duration = duration
        options.serverPID = serverPID
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

struct BenchEcho: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "N connections each keep a window of messages in flight against an echo server.")

    @OptionGroup var common: BenchCommonOptions
    @Option(name: [.customShort("c"), .long], help: "Connections.") var connections = 100
    @Option(name: [.customShort("s"), .long], help: "Message size in bytes.") var size = 20
    @Flag(help: "Send binary messages (default: text).") var binary = false
    @Option(help: "Messages in flight per connection (1: send, wait for the echo, send the next).") var window = 1

    func run() async throws {
        var parameters = Bench.EchoParameters()
        parameters.connections = connections
        parameters.size = size
        parameters.binary = binary
        parameters.window = window
        let options = common.benchOptions()
        try await common.report { try await Bench.echo(options, parameters) }
    }
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

struct BenchBroadcast: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broadcast",
        abstract: "Publishers send to a broadcast endpoint; every message must reach every connection.",
        discussion: """
            The server must send every text message received on --path (default /broadcast) to every \
            connection on that path, the sender included. Reports deliveries/s and delivery latency.
            """)

    @OptionGroup var common: BenchCommonOptions
    @OptionGroup var broadcast: BroadcastOptions

    func run() async throws {
        let options = common.benchOptions(defaultPath: "/broadcast")
        let parameters = broadcast.parameters
        try await common.report { try await Bench.broadcast(options, parameters) }
    }
}

struct BenchConnect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Open N idle connections (at a rate), hold them; handshake rate and server RSS per connection.")

    @OptionGroup var common: BenchCommonOptions
    @Option(name: [.customShort("c"), .long], help: "Connections.") var connections = 1_000
    @Option(help: "Connections started per second (default: as fast as --concurrency allows).") var rate: Double?
    @Option(help: "Seconds to hold the connections open.") var hold = 5.0
    @Flag(help: "Echo one message on every connection before reading the server's memory.") var touch = false

    func run() async throws {
        var parameters = Bench.ConnectParameters()
        parameters.connections = connections
        parameters.rate = rate
        parameters.hold = hold
        parameters.touch = touch
        let options = common.benchOptions()
        try await common.report { try await Bench.connect(options, parameters) }
    }
}

struct BenchSocketIO: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "socketio",
        abstract: "Echo with acks, or broadcast, over Socket.IO v5 (Engine.IO v4, WebSocket transport only).",
        discussion: """
            echo: emits 42<id>["echo","<payload>"] and expects the ack 43<id>["<payload>"]. \
            broadcast: publishers emit 42["broadcast","<payload>"]; the server must emit \
            42["message","<payload>"] to every connected socket, the sender included.
            """)

    @OptionGroup var common: BenchCommonOptions
    @Option(help: "echo or broadcast.") var mode: String = "echo"
    @OptionGroup var broadcast: BroadcastOptions

    func run() async throws {
        let options = common.benchOptions(defaultPath: Bench.socketIOPath)
        switch mode {
        case "echo":
            var parameters = Bench.EchoParameters()
            parameters.connections = broadcast.connections
            parameters.size = broadcast.size == 32 ? 20 : broadcast.size
            parameters.window = broadcast.window
            try await common.report { try await Bench.socketIOEcho(options, parameters) }
        case "broadcast":
            let parameters = broadcast.parameters
            try await common.report { try await Bench.socketIOBroadcast(options, parameters) }
        default:
            throw ValidationError("--mode must be echo or broadcast")
        }
    }
}
