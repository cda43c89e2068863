// `PostgresConnection.Configuration(url:)` comes with the cluster adapter.
@_exported import DuplexPostgres
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import SocketIO
import Synchronization

/// This process as a node of a Socket.IO cluster on PostgreSQL (LISTEN/NOTIFY), wire-
/// compatible with Node's `@socket.io/postgres-adapter` 0.5 and its emitter.
///
/// ```swift
/// let cluster = PostgresCluster(configuration: .init(host: "db", username: "app", password: "…",
///                                                    database: "app", tls: .disable))
/// var options = SocketIOServerOptions()
/// options.adapter = cluster.adapterFactory
/// let io = SocketIOServer(options: options)
/// cluster.start()
/// …
/// await io.close()          // the adapters say goodbye (ADAPTER_CLOSE)
/// await cluster.shutdown()  // sends what is queued, closes the connection
/// ```
///
/// One connection carries everything (LISTEN on every namespace channel, the NOTIFYs, the
/// attachments table); when it is lost, local delivery goes on and it reconnects with
/// back-off. See docs/cluster.md.
public final class PostgresCluster: Sendable {
    public let options: PostgresAdapterOptions
    private let adapters = Mutex<[String: PostgresAdapter]>([:])
    private let notifierBox = Mutex<PostgresNotifier?>(nil)
    /// Made with the first adapter whose server has connection state recovery on.
    private let recoveryBox = Mutex<RecoveryDatabase?>(nil)
    private let logger: Logger

    public init(configuration: PostgresConnection.Configuration, options: PostgresAdapterOptions = PostgresAdapterOptions(),
                logger: Logger = Logger(label: "duplex.socketio.postgres"),
                eventLoop: EventLoop = MultiThreadedEventLoopGroup.singleton.next()) {
        self.options = options
        self.logger = logger
        let notifier = PostgresNotifier(
            configuration: configuration, options: options, logger: logger, eventLoop: eventLoop,
            isOwn: { [weak self] channel, uid in self?.adapter(channel: channel)?.uid == uid },
            receive: { [weak self] channel, message in self?.adapter(channel: channel)?.receive(message) },
            onConnected: { [weak self] in
                for adapter in self?.adapters.withLock({ Array($0.values) }) ?? [] {
                    adapter.announce()
                    adapter.recoveryReconnected()
                }
            })
        notifierBox.withLock { $0 = notifier }
    }

    private var notifier: PostgresNotifier { notifierBox.withLock { $0! } }

    private func adapter(channel: String) -> PostgresAdapter? {
        adapters.withLock { $0[channel] }
    }

    /// For ``SocketIOServerOptions/adapter``.
    public var adapterFactory: @Sendable (SocketIOAdapterContext) -> any SocketIOAdapter {
        { [self] context in makeAdapter(context) }
    }

    /// The adapter of a namespace: listens on its channel from now on.
    public func makeAdapter(_ context: SocketIOAdapterContext) -> PostgresAdapter {
        let recovery: RecoveryDatabase? = context.recovery == nil ? nil : recoveryBox.withLock { box in
            if let existing = box { return existing }
            let made = RecoveryDatabase(link: notifier.link, logger: logger, limit: options.maxPendingNotifications)
            made.start()
            box = made
            return made
        }
        let adapter = PostgresAdapter(context: context, notifier: notifier, options: options, logger: logger,
                                      recovery: recovery) { [weak self] closed in
            // A dynamic namespace removed when empty: forget its adapter and its channel (a
            // new adapter, with a new uid, comes with the namespace's next socket). Under the
            // lock, so that a new adapter of the same channel cannot lose its LISTEN.
            guard let self else { return }
            self.adapters.withLock { adapters in
                guard adapters[closed.channel] === closed else { return }
                adapters[closed.channel] = nil
                self.notifier.unlisten(closed.channel)
            }
        }
        adapters.withLock { adapters in
            adapters[adapter.channel] = adapter
            notifier.listen(adapter.channel)
        }
        adapter.start()
        return adapter
    }

    /// Connects (and keeps reconnecting) to PostgreSQL.
    public func start() {
        notifier.start()
    }

    /// Sends what is still queued (briefly), then closes the connection. Close the
    /// Socket.IO server first, so that its adapters' goodbyes go out.
    public func shutdown() async {
        recoveryBox.withLock { $0?.stop() }
        await notifier.shutdown()
    }
}
