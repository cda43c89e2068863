import ArgumentParser
import Duplex
import Logging
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Echo every message back (with an optional suffix on text).",
        discussion: """
            With the default empty suffix it is a pure echo, as conformance suites expect. \
            Connections on the path /broadcast join one room instead: every text or binary message \
            received there goes to every /broadcast connection, the sender included (framed once).
            """
    )

    @Option(help: "Port to listen on (0 picks a free one).") var port = 3000
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Appended to every echoed text message (the classic example uses \"!!!\").") var suffix = ""
    @Flag(inversion: .prefixedNo, help: "Accept permessage-deflate (RFC 7692) offers. Off by default, as in the library.")
    var deflate = false
    @Option(help: "permessage-deflate memory mode: shared (no context takeover, zlib streams shared per event loop, no zlib state on idle connections) or context-takeover (per-connection streams).")
    var deflateMode: DeflateMode = .shared
    @Option(help: "Messages smaller than this many bytes are sent uncompressed.") var deflateMinSize = 1024
    @Option(help: "PEM certificate chain: serve wss:// (with --tls-key).") var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.") var tlsKey: String?
    @Option(help: "Event-loop threads (default: one per core).") var threads: Int?
    @OptionGroup var limits: LimitOptions
    @OptionGroup var exposure: ExposureOptions

    enum DeflateMode: String, ExpressibleByArgument, CaseIterable {
        case shared
        case contextTakeover = "context-takeover"
    }

    func validate() throws {
        try validatePort(port)
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        #if !TLS
        if tlsCert != nil { throw ValidationError(BuildFeatures.tlsMissing) }
        #endif
    }

    func run() async throws {
        let suffix = self.suffix
        var configuration = limits.serverConfiguration(label: "duplex.echo")
        exposure.apply(to: &configuration)
        if deflate {
            configuration.webSocket.compression = PerMessageDeflateOptions(
                mode: deflateMode == .shared ? .shared : .contextTakeover, minimumSize: deflateMinSize)
        }
        if let tlsCert, let tlsKey {
            try configuration.useTLS(certificateChainFile: tlsCert, privateKeyFile: tlsKey)
        }
        let room = BroadcastGroup()
        let group: EventLoopGroup = threads.map { MultiThreadedEventLoopGroup(numberOfThreads: max(1, $0)) }
            ?? MultiThreadedEventLoopGroup.singleton
        let server = WebSocketServer(configuration: configuration, group: group) { connection in
            if connection.path == "/broadcast" {
                room.join(connection)
                connection.onText { text in room.send(text) }
                connection.onBinary { data in room.send(data) }
                return
            }
            connection.onText { text in connection.send(suffix.isEmpty ? text : text + suffix) }
            connection.onBinary { data in connection.send(data) }
        }
        let bound = try await server.listen(port: port, host: host)
        let scheme = tlsCert == nil ? "ws" : "wss"
        let compression = deflate ? " (permessage-deflate: \(deflateMode.rawValue))" : ""
        try await runUntilSignal(run: server.run, close: { await server.close() }, ready: {
            print("duplex echo listening on \(scheme)://\(host):\(bound)/\(compression)")
            fflush(nil)
        })
    }
}

/// Limits shared by the server subcommands.
struct LimitOptions: ParsableArguments {
    @Option(help: "Largest message in bytes (larger: close 1009).") var maxMessageSize = 16 * 1024 * 1024
    @Option(help: "Seconds a client gets to complete the HTTP handshake.") var handshakeTimeout: Double = 10
    @Option(help: "Seconds between heartbeat pings (0: off).") var pingInterval: Double = 30
    @Option(help: "Most simultaneous WebSocket connections.") var maxConnections = 100_000
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"

    func serverConfiguration(label: String) -> WebSocketServer.Configuration {
        var configuration = WebSocketServer.Configuration()
        configuration.webSocket.maxMessageSize = maxMessageSize
        configuration.webSocket.pingInterval = pingInterval > 0 ? .nanoseconds(Int64(pingInterval * 1e9)) : nil
        configuration.handshakeTimeout = .nanoseconds(Int64(handshakeTimeout * 1e9))
        configuration.maxConnections = maxConnections
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        configuration.logger = logger
        return configuration
    }
}
