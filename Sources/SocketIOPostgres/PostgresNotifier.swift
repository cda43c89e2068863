import DuplexPostgres
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The Socket.IO side of the process's link to PostgreSQL (``PostgresLink``): LISTENs on
/// every namespace channel and sends the NOTIFYs (and reads and writes the attachments
/// table). Outgoing messages wait in a bounded queue (the oldest are dropped when
/// PostgreSQL is down for long); notifications are handed on in the order they came, those
/// that point at an attachment once it has been read.
final class PostgresNotifier: Sendable {
    struct Outgoing: Sendable {
        let channel: String
        let message: ClusterMessage
        /// Connection state recovery: sent through the log (see `sendLogged`).
        var logged: LoggedBroadcast? = nil
    }

    /// Called for every message received (on the notifier's event loop, in order).
    typealias Receive = @Sendable (_ channel: String, _ message: ClusterMessage) -> Void

    let options: PostgresAdapterOptions
    let logger: Logger
    let link: PostgresLink
    private let outgoing: BoundedSendQueue<Outgoing>
    private let inbound: InboundQueue
    private let tasks = Mutex<[Task<Void, Never>]>([])

    var eventLoop: EventLoop { link.eventLoop }

    init(configuration: PostgresConnection.Configuration, options: PostgresAdapterOptions, logger: Logger,
         eventLoop: EventLoop, isOwn: @escaping @Sendable (_ channel: String, _ uid: String) -> Bool,
         receive: @escaping Receive, onConnected: @escaping @Sendable () -> Void) {
        self.options = options
        self.logger = logger
        link = PostgresLink(
            configuration: configuration, eventLoop: eventLoop, logger: logger,
            reconnectDelay: options.reconnectDelay, maxReconnectDelay: options.maxReconnectDelay,
            prepare: { [options, logger] connection in
                if options.createTable {
                    try await connection.query(
                        "CREATE TABLE IF NOT EXISTS \(unescaped: options.tableName) (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)",
                        logger: logger)
                }
            },
            onConnected: onConnected)
        outgoing = BoundedSendQueue(limit: options.maxPendingNotifications, logger: logger,
                                    dropMessage: "cluster messages dropped: the queue is full (PostgreSQL slow or down)")
        inbound = InboundQueue(eventLoop: eventLoop, limit: options.maxPendingInbound, logger: logger,
                               isOwn: isOwn, receive: receive)
        inbound.fetch = { [weak self] id in try await self?.readAttachment(id) }
        inbound.fetchLogged = { [weak self] offset in try await self?.readLogged(offset) }
    }

    /// Starts connecting, sending and cleaning up.
    func start() {
        link.start()
        let started = [
            Task { await self.outgoing.run { await self.send($0) } },
            Task { await self.cleanUpAttachments() },
        ]
        tasks.withLock { $0 = started }
    }

    /// Sends what is queued (for up to `flushTimeout`), then closes the connection.
    func shutdown(flushTimeout: TimeAmount = .seconds(2)) async {
        outgoing.finish()
        let sender = tasks.withLock { $0.first }
        let deadline = NIODeadline.now() + flushTimeout
        if let sender {
            let watchdog = Task {
                try? await Task.sleep(nanoseconds: UInt64(max(0, (deadline - .now()).nanoseconds)))
                sender.cancel()
            }
            await sender.value
            watchdog.cancel()
        }
        for task in tasks.withLock({ $0 }) { task.cancel() }
        await link.close()
    }

    /// Messages dropped so far because the outgoing queue was full.
    var droppedOutgoing: Int { outgoing.droppedCount }

    // MARK: - Channels

    /// LISTENs on `channel` from now on (and after every reconnection).
    func listen(_ channel: String) {
        link.listen(channel) { [inbound] channel, payload in
            inbound.received(channel: channel, payload: payload)
        }
    }

    // MARK: - Sending

    /// Queues a BROADCAST that goes through the recovery log (it comes back with its offset).
    func publishLogged(_ message: ClusterMessage, on channel: String, _ logged: LoggedBroadcast) {
        outgoing.push(Outgoing(channel: channel, message: message, logged: logged))
    }

    /// Stops listening on `channel` (a namespace removed when it emptied).
    func unlisten(_ channel: String) {
        link.unlisten(channel)
    }

    /// Queues a message for the namespace channel `channel`. Never waits: when PostgreSQL
    /// is down the queue fills, and past its bound the oldest messages go.
    func publish(_ message: ClusterMessage, on channel: String) {
        outgoing.push(Outgoing(channel: channel, message: message))
    }

    private func send(_ item: Outgoing) async {
        if let logged = item.logged { return await sendLogged(item, logged) }
        let text = item.message.jsonText
        let viaTable = item.message.needsAttachment(jsonByteCount: text.utf8.count, threshold: options.payloadThreshold)
        do {
            // A second try when the connection went away under the first (the next one is new).
            _ = try await link.withConnection { connection in
                if viaTable {
                    let rows = try await connection.query(
                        "INSERT INTO \(unescaped: options.tableName) (payload) VALUES (\(item.message.messagePack)) RETURNING id",
                        logger: logger)
                    var id: Int64?
                    for try await row in rows { id = try row.decode(Int64.self) }
                    guard let id else { return }
                    try await connection.query("SELECT pg_notify(\(item.channel), \(item.message.attachmentHeader(id: id)))", logger: logger)
                } else {
                    try await connection.query("SELECT pg_notify(\(item.channel), \(text))", logger: logger)
                }
            }
        } catch {
            logger.warning("cluster message not sent: \(String(reflecting: error))", metadata: ["channel": "\(item.channel)"])
        }
    }

    // MARK: - Attachments

    private func readAttachment(_ id: Int64) async throws -> ClusterMessage? {
        guard let connection = await link.currentConnection() else { return nil }
        let rows = try await connection.query("SELECT payload FROM \(unescaped: options.tableName) WHERE id = \(id)", logger: logger)
        var payload: ByteBuffer?
        for try await row in rows { payload = try row.decode(ByteBuffer.self) }
        guard let payload else {
            throw ClusterMessageDecodingError(description: "attachment \(id) not found (cleaned up already?)")
        }
        return try ClusterMessage(messagePack: payload)
    }

    private func cleanUpAttachments() async {
        let interval = options.cleanupInterval
        while !Task.isCancelled && !link.isClosed {
            try? await Task.sleep(nanoseconds: UInt64(max(1_000_000, interval.nanoseconds)))
            guard let connection = link.openConnection else { continue }
            do {
                try await connection.query(
                    "DELETE FROM \(unescaped: options.tableName) WHERE created_at < now() - interval '\(unescaped: String(interval.nanoseconds / 1_000_000)) milliseconds'",
                    logger: logger)
            } catch {
                logger.warning("attachments cleanup failed: \(String(reflecting: error))")
            }
        }
    }
}

/// Notifications in arrival order: a message is handed on once everything before it has
/// been (attachments are read first). Confined to the notifier's event loop.
final class InboundQueue: @unchecked Sendable {
    private final class Slot {
        let channel: String
        var message: ClusterMessage?
        var ready: Bool
        init(channel: String, message: ClusterMessage?, ready: Bool) {
            self.channel = channel
            self.message = message
            self.ready = ready
        }
    }

    private let eventLoop: EventLoop
    private let limit: Int
    private let logger: Logger
    private let isOwn: @Sendable (String, String) -> Bool
    private let receive: PostgresNotifier.Receive
    private var slots = CircularBuffer<Slot>()
    private(set) var dropped = 0
    private var undecodable = 0
    /// Reads an attachment (set once by the notifier before any notification).
    nonisolated(unsafe) var fetch: (@Sendable (Int64) async throws -> ClusterMessage?)?
    /// Reads a logged broadcast by its offset (set likewise).
    nonisolated(unsafe) var fetchLogged: (@Sendable (Int64) async throws -> ClusterMessage?)?

    init(eventLoop: EventLoop, limit: Int, logger: Logger, isOwn: @escaping @Sendable (String, String) -> Bool,
         receive: @escaping PostgresNotifier.Receive) {
        self.eventLoop = eventLoop
        self.limit = limit
        self.logger = logger
        self.isOwn = isOwn
        self.receive = receive
    }

    func received(channel: String, payload: String) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.received(channel: channel, payload: payload) }
            return
        }
        let notification: ClusterNotification
        do {
            notification = try ClusterNotification(payload: payload)
        } catch {
            undecodable += 1
            if undecodable == 1 || undecodable % 1000 == 0 {
                logger.warning("cluster notification ignored: \(error)", metadata: ["channel": "\(channel)", "ignoredSoFar": "\(undecodable)"])
            }
            return
        }
        switch notification {
        case .message(let message):
            if slots.isEmpty {
                receive(channel, message)
            } else {
                admit(Slot(channel: channel, message: message, ready: true))
            }
        case .attachment(let uid, _, let id):
            // Our own large messages come back too: no need to read them.
            guard !isOwn(channel, uid) else { return }
            admitRead(channel: channel, what: "cluster attachment \(id)") { [fetch] in try await fetch?(id) }
        case .logged(let uid, let offset):
            // Our own too: every node delivers logged broadcasts in offset order.
            admitRead(channel: channel, what: "logged broadcast \(offset)") { [fetchLogged, logger] in
                do {
                    return try await fetchLogged?(offset)
                } catch {
                    // Handed on empty: the adapter then knows its log has a hole there.
                    logger.warning("logged broadcast \(offset) not read: \(error)")
                    return ClusterMessage(type: .broadcast, uid: uid, nsp: nil, data: nil, offset: String(offset))
                }
            }
        }
    }

    /// A message to read from PostgreSQL first: it waits in its place, and what comes
    /// after it waits for it.
    private func admitRead(channel: String, what: String, read: @escaping @Sendable () async throws -> ClusterMessage?) {
        let slot = Slot(channel: channel, message: nil, ready: false)
        guard admit(slot) else { return }
        let logger = logger
        Task {
            var message: ClusterMessage?
            do {
                message = try await read()
            } catch {
                logger.warning("\(what) not read: \(error)")
            }
            self.eventLoop.execute {
                slot.message = message
                slot.ready = true
                self.drain()
            }
        }
    }

    /// Notifications waiting (on the loop).
    var pendingCount: Int { slots.count }

    @discardableResult
    private func admit(_ slot: Slot) -> Bool {
        guard slots.count < limit else {
            dropped += 1
            if dropped == 1 || dropped % 1000 == 0 {
                logger.warning("cluster notifications dropped: too many wait for attachments", metadata: [
                    "limit": "\(limit)", "droppedSoFar": "\(dropped)",
                ])
            }
            return false
        }
        slots.append(slot)
        return true
    }

    private func drain() {
        while let first = slots.first, first.ready {
            slots.removeFirst()
            if let message = first.message { receive(first.channel, message) }
        }
    }
}
