import ArgumentParser
import ChatRoom
import Duplex
import CoreMetrics
import Logging
import NIOCore
import Prometheus
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "The chat room: the page at / and the WebSocket on one port, history in SQLite."
    )

    @Option(help: "Port to listen on (0 picks a free one).") var port = 3000
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "SQLite file for the history.") var db = "chat.sqlite"
    @Flag(help: "Keep history in memory only (nothing written to disk).") var memory = false
    @Option(help: "Messages of history sent on join.") var history = 50
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(help: "Seconds between WebSocket heartbeat pings of the chat's own WebSockets (0: off; Socket.IO has its own).")
    var pingInterval: Double = 30
    @Flag(help: "Serve metrics at /metrics in Prometheus' text format (connections, messages, Socket.IO, chat).")
    var metrics = false
    @Option(help: "Messages accepted and waiting for the store, in all (a quarter of it per room); beyond, senders get an `overloaded` error.")
    var maxPending = 4096
    @OptionGroup var exposure: ExposureOptions

    func validate() throws {
        try validatePort(port)
        guard history >= 0 else { throw ValidationError("--history must be 0 or more") }
        guard maxPending >= 1 else { throw ValidationError("--max-pending must be 1 or more") }
    }

    func run() async throws {
        var configuration = ChatServer.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.storage = memory ? .memory : .sqlite(path: db)
        configuration.settings.historyLimit = history
        configuration.settings.maxPendingMessages = maxPending
        configuration.settings.maxPendingMessagesPerRoom = max(1, maxPending / 4)
        exposure.apply(to: &configuration.server)
        configuration.server.webSocket.pingInterval = pingInterval > 0 ? .nanoseconds(Int64(pingInterval * 1e9)) : nil
        var logger = Logger(label: "duplex.chat")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        configuration.logger = logger
        if metrics {
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            configuration.metricsPage = { ByteBuffer(bytes: registry.emitToBuffer()) }
        }
        let server = try await ChatServer(configuration: configuration)
        let bound: Int
        do {
            bound = try await server.listen()
        } catch {
            await server.close()  // the open store is closed, whatever failed
            throw error
        }
        try await runUntilSignal(run: server.run, close: server.close, ready: {
            print("duplex chat: open http://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(bound)/ (history: \(memory ? "in memory" : db))")
            fflush(nil)  // a pipe or a log file gets the line now, not at exit
        })
    }
}
