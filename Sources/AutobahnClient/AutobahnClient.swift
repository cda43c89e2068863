// duplex-autobahn-client URL: the Autobahn|Testsuite client loop (fuzzingserver mode) for
// the Duplex client. It asks the suite for its case count, runs every case echoing each
// message back unchanged, then asks it to write the reports.
//
//     duplex-autobahn-client ws://127.0.0.1:9001 [--agent duplex] [--deflate-mode shared|context-takeover]
//
// AUTOBAHN_URL and AUTOBAHN_AGENT (exported by shared/autobahn/test-client) are used when
// the URL or --agent are not given.
import Duplex
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct AutobahnClient {
    let base: String
    let agent: String
    let configuration: WebSocket.Configuration

    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        var agent = environment("AUTOBAHN_AGENT") ?? "duplex"
        var mode = PerMessageDeflateOptions.Mode.shared
        var base = environment("AUTOBAHN_URL") ?? "ws://127.0.0.1:9001"
        while let argument = arguments.first {
            arguments.removeFirst()
            switch argument {
            case "--agent":
                guard let value = arguments.first else { log("--agent needs a value"); exit(64) }
                agent = value
                arguments.removeFirst()
            case "--deflate-mode":
                guard let value = arguments.first, ["shared", "context-takeover"].contains(value) else {
                    log("--deflate-mode: shared or context-takeover"); exit(64)
                }
                mode = value == "shared" ? .shared : .contextTakeover
                arguments.removeFirst()
            case "-h", "--help":
                log("usage: duplex-autobahn-client [URL] [--agent NAME] [--deflate-mode shared|context-takeover]")
                exit(0)
            default:
                base = argument
            }
        }
        while base.hasSuffix("/") { base.removeLast() }

        var configuration = WebSocket.Configuration()
        configuration.webSocket.maxMessageSize = 64 * 1024 * 1024
        configuration.webSocket.maxFragments = 1 << 20
        // Compress every echoed message once permessage-deflate is negotiated (12.*, 13.*).
        configuration.webSocket.compression = PerMessageDeflateOptions(mode: mode, minimumSize: 1)
        configuration.logger.logLevel = .critical
        let client = AutobahnClient(base: base, agent: agent, configuration: configuration)
        exit(await client.runAll() ? 0 : 1)
    }

    func runAll() async -> Bool {
        let start = ContinuousClock.now
        guard let countText = await run("/getCaseCount", echo: false), let count = Int(countText) else {
            Self.log("cannot get the case count from \(base)")
            return false
        }
        Self.log("duplex-autobahn-client: \(count) cases, agent \(agent)")
        if count > 0 {
            for number in 1...count {
                await run("/runCase?case=\(number)&agent=\(agent)", echo: true)
                if number % 50 == 0 || number == count {
                    Self.log("  \(number)/\(count) cases (\(ContinuousClock.now - start))")
                }
            }
        }
        await run("/updateReports?agent=\(agent)", echo: false)
        Self.log("duplex-autobahn-client: done in \(ContinuousClock.now - start)")
        return true
    }

    /// Opens `path`, echoes every message, and returns the first text message received.
    @discardableResult
    func run(_ path: String, echo: Bool) async -> String? {
        let socket: WebSocket
        do {
            socket = try WebSocket(url: base + path, configuration: configuration)
        } catch {
            Self.log("\(path): \(error)")
            return nil
        }
        let first = FirstText()
        socket.onMessage { message in
            switch message {
            case .text(let text):
                first.record(text)
                if echo { socket.send(text) }
            case .binary(let data):
                if echo { socket.send(data) }
            }
        }
        do {
            try await socket.waitUntilOpen()
        } catch {
            Self.log("\(path): \(error)")
            return nil
        }
        await socket.waitUntilClosed()
        return first.value
    }

    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    static func log(_ line: String) {
        writeStandardError(line + "\n")
    }
}

/// The first text message of a connection. Messages arrive on the socket's event loop and
/// the value is read after the connection closed (which happens-after on that loop).
final class FirstText: @unchecked Sendable {
    private var text: String?
    func record(_ text: String) { if self.text == nil { self.text = text } }
    var value: String? { text }
}
