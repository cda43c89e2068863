import ArgumentParser
import Duplex
import Logging
import NIOCore

struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Echo every message back (with an optional suffix on text).",
        discussion: "With the default empty suffix it is a pure echo, as conformance suites expect."
    )

    @Option(help: "Port to listen on (0 picks a free one).") var port = 3000
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Appended to every echoed text message (the classic example uses \"!!!\").") var suffix = ""
    @OptionGroup var limits: LimitOptions

    func run() async throws {
        let suffix = self.suffix
        let server = WebSocketServer(configuration: limits.serverConfiguration(label: "duplex.echo")) { connection in
            connection.onText { text in connection.send(suffix.isEmpty ? text : text + suffix) }
            connection.onBinary { data in connection.send(data) }
        }
        let bound = try await server.listen(port: port, host: host)
        print("duplex echo listening on ws://\(host):\(bound)/")
        try await runUntilSignal(server)
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
