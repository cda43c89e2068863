import ArgumentParser
import ChatRoom
import Duplex
import CoreMetrics
import Logging
import NIOCore
import Prometheus
#if Postgres
import ChatRoomPostgres
#endif
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
    @Option(help: "PostgreSQL URL (postgres://user:password@host:port/db): history, identities and presence shared by every server started with it; default $DUPLEX_CHAT_POSTGRES. Needs a duplex built with `--traits Postgres`.")
    var postgres: String?
    @Option(help: "This server's name among those sharing --postgres (default: random).") var nodeName: String?
    @Option(help: "With --postgres: seconds after which a silent server's people leave the room.") var presenceTimeout: Double = 10
    @OptionGroup var exposure: ExposureOptions

    func validate() throws {
        try validatePort(port)
        guard history >= 0 else { throw ValidationError("--history must be 0 or more") }
        guard maxPending >= 1 else { throw ValidationError("--max-pending must be 1 or more") }
        guard presenceTimeout > 0 else { throw ValidationError("--presence-timeout must be above 0") }
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
        let postgresURL = postgres ?? getenv("DUPLEX_CHAT_POSTGRES").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        let server: ChatServer
        let closeStore: @Sendable () async -> Void
        var historyPlace = memory ? "in memory" : db
        if let postgresURL {
            #if Postgres
            var options = PostgresChatNode.Options()
            if let nodeName { options.nodeName = nodeName }
            options.presenceTimeout = .nanoseconds(Int64(presenceTimeout * 1e9))
            // A few heartbeats per timeout, so that a living node is never taken for dead.
            options.heartbeat = .nanoseconds(min(options.heartbeat.nanoseconds, Int64(presenceTimeout * 1e9 / 3)))
            var nodeLogger = logger
            nodeLogger[metadataKey: "node"] = "\(options.nodeName)"
            let node: PostgresChatNode
            do {
                node = try await PostgresChatNode.connect(configuration: try .init(url: postgresURL), options: options, logger: nodeLogger)
            } catch {
                throw ChatStartError(description: "\(error) (--postgres \(redacted(postgresURL)))")
            }
            server = ChatServer(configuration: configuration, store: node.store)
            node.attach(server.hub)
            closeStore = { await node.shutdown() }
            historyPlace = "PostgreSQL, node \(options.nodeName)"
            #else
            throw ChatStartError(description: """
                this duplex was built without PostgreSQL support, so --postgres (or DUPLEX_CHAT_POSTGRES) cannot be used. \
                Build it with the Postgres trait: `swift build --traits Postgres` (or `swift run --traits Postgres duplex chat --postgres URL`)
                """)
            #endif
        } else {
            server = try await ChatServer(configuration: configuration)
            closeStore = {}
        }
        let bound: Int
        do {
            bound = try await server.listen()
        } catch {
            await server.close()  // the open store is closed, whatever failed
            await closeStore()
            throw error
        }
        let place = historyPlace
        try await runUntilSignal(run: server.run, close: {
            // PostgreSQL down: what waits for it would hold the shutdown forever. After 2 s
            // the link closes, and those waits fail (their senders were never confirmed).
            let deadline = Task {
                try await Task.sleep(nanoseconds: 2_000_000_000)
                await closeStore()
            }
            await server.close()
            deadline.cancel()
            await closeStore()
        }, ready: {
            print("duplex chat: open http://\(host == "0.0.0.0" ? "127.0.0.1" : host):\(bound)/ (history: \(place))")
            fflush(nil)  // a pipe or a log file gets the line now, not at exit
        })
    }

    /// The URL without its password, for messages.
    private func redacted(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@") else { return url }
        let credentials = url[..<at]
        guard let colon = credentials.lastIndex(of: ":"), credentials[credentials.index(after: colon)...].first != "/" else { return url }
        return String(url[...colon]) + "***" + String(url[at...])
    }
}

/// Why `duplex chat` could not start, said plainly (exit status 1).
struct ChatStartError: Error, CustomStringConvertible {
    let description: String
}
