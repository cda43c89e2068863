import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The process's link to PostgreSQL: one connection that LISTENs on every namespace
/// channel and sends the NOTIFYs (and reads and writes the attachments table), reconnecting
/// with back-off when it is lost. Outgoing messages wait in a bounded queue (the oldest are
/// dropped when PostgreSQL is down for long); notifications are handed on in the order they
/// came, those that point at an attachment once it has been read.
final class PostgresNotifier: Sendable {
    struct Outgoing: Sendable {
        let channel: String
        let message: ClusterMessage
    }

    /// Called for every message received (on the notifier's event loop, in order).
    typealias Receive = @Sendable (_ channel: String, _ message: ClusterMessage) -> Void

    private struct State {
        var connection: PostgresConnection?
        var channels: [String] = []
        var closed = false
        var droppedOutgoing = 0
        var tasks: [Task<Void, Never>] = []
    }

    let configuration: PostgresConnection.Configuration
    let options: PostgresAdapterOptions
    let logger: Logger
    let eventLoop: EventLoop
    private let state = Mutex(State())
    private let outgoing: AsyncStream<Outgoing>
    private let outgoingInput: AsyncStream<Outgoing>.Continuation
    private let inbound: InboundQueue
    private let onConnected: @Sendable () -> Void
    private let connectionIDs = Atomic<Int>(0)

    init(configuration: PostgresConnection.Configuration, options: PostgresAdapterOptions, logger: Logger,
         eventLoop: EventLoop, isOwn: @escaping @Sendable (_ channel: String, _ uid: String) -> Bool,
         receive: @escaping Receive, onConnected: @escaping @Sendable () -> Void) {
        self.configuration = configuration
        self.options = options
        self.logger = logger
        self.eventLoop = eventLoop
        self.onConnected = onConnected
        (outgoing, outgoingInput) = AsyncStream.makeStream(of: Outgoing.self,
                                                           bufferingPolicy: .bufferingNewest(max(1, options.maxPendingNotifications)))
        inbound = InboundQueue(eventLoop: eventLoop, limit: options.maxPendingInbound, logger: logger,
                               isOwn: isOwn, receive: receive)
        inbound.fetch = { [weak self] id in try await self?.readAttachment(id) }
    }

    /// Starts connecting, sending and cleaning up.
    func start() {
        let tasks = [
            Task { await self.keepConnected() },
            Task { await self.sendQueued() },
            Task { await self.cleanUpAttachments() },
        ]
        state.withLock { $0.tasks = tasks }
    }

    /// Sends what is queued (for up to `flushTimeout`), then closes the connection.
    func shutdown(flushTimeout: TimeAmount = .seconds(2)) async {
        outgoingInput.finish()
        let sender = state.withLock { $0.tasks.count > 1 ? $0.tasks[1] : nil }
        let deadline = NIODeadline.now() + flushTimeout
        if let sender {
            let watchdog = Task {
                try? await Task.sleep(nanoseconds: UInt64(max(0, (deadline - .now()).nanoseconds)))
                sender.cancel()
            }
            await sender.value
            watchdog.cancel()
        }
        let (connection, tasks) = state.withLock { state in
            state.closed = true
            defer { state.connection = nil }
            return (state.connection, state.tasks)
        }
        for task in tasks { task.cancel() }
        try? await connection?.close()
    }

    private var isClosed: Bool { state.withLock { $0.closed } }

    /// Messages dropped so far because the outgoing queue was full.
    var droppedOutgoing: Int { state.withLock { $0.droppedOutgoing } }

    // MARK: - Channels

    /// LISTENs on `channel` from now on (and after every reconnection).
    func listen(_ channel: String) {
        let connection: PostgresConnection? = state.withLock { state in
            guard !state.channels.contains(channel) else { return nil }
            state.channels.append(channel)
            return state.connection
        }
        if let connection { addListener(channel, on: connection) }
    }

    private func addListener(_ channel: String, on connection: PostgresConnection) {
        // The driver sends LISTEN; the handler runs on the connection's loop (ours).
        connection.addListener(channel: channel) { [inbound] _, notification in
            inbound.received(channel: notification.channel, payload: notification.payload)
        }
    }

    // MARK: - Sending

    /// Queues a message for the namespace channel `channel`. Never waits: when PostgreSQL
    /// is down the queue fills, and past its bound the oldest messages go.
    func publish(_ message: ClusterMessage, on channel: String) {
        switch outgoingInput.yield(Outgoing(channel: channel, message: message)) {
        case .dropped:
            let dropped = state.withLock { state in
                state.droppedOutgoing += 1
                return state.droppedOutgoing
            }
            if dropped == 1 || dropped % 1000 == 0 {
                logger.warning("cluster messages dropped: the queue is full (PostgreSQL slow or down)", metadata: [
                    "limit": "\(options.maxPendingNotifications)", "droppedSoFar": "\(dropped)",
                ])
            }
        case .enqueued, .terminated:
            break
        @unknown default:
            break
        }
    }

    private func sendQueued() async {
        for await item in outgoing {
            await send(item)
        }
    }

    private func send(_ item: Outgoing) async {
        let text = item.message.jsonText
        let viaTable = item.message.needsAttachment(jsonByteCount: text.utf8.count, threshold: options.payloadThreshold)
        // A second try when the connection went away under the first (the next one is new).
        for _ in 0..<2 {
            guard let connection = await currentConnection() else { return }
            do {
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
                return
            } catch {
                if connection.isClosed { continue }
                logger.warning("cluster message not sent: \(String(reflecting: error))", metadata: ["channel": "\(item.channel)"])
                return
            }
        }
    }

    /// The connection once there is one; nil when closing (or the sender was cancelled).
    private func currentConnection() async -> PostgresConnection? {
        while !Task.isCancelled {
            let (connection, closed) = state.withLock { ($0.connection, $0.closed) }
            if closed { return nil }
            if let connection, !connection.isClosed { return connection }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        return nil
    }

    // MARK: - Attachments

    private func readAttachment(_ id: Int64) async throws -> ClusterMessage? {
        guard let connection = await currentConnection() else { return nil }
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
        while !Task.isCancelled && !isClosed {
            try? await Task.sleep(nanoseconds: UInt64(max(1_000_000, interval.nanoseconds)))
            guard let connection = state.withLock({ $0.connection }), !connection.isClosed else { continue }
            do {
                try await connection.query(
                    "DELETE FROM \(unescaped: options.tableName) WHERE created_at < now() - interval '\(unescaped: String(interval.nanoseconds / 1_000_000)) milliseconds'",
                    logger: logger)
            } catch {
                logger.warning("attachments cleanup failed: \(String(reflecting: error))")
            }
        }
    }

    // MARK: - The connection

    private func keepConnected() async {
        var failures = 0
        var wasConnected = false
        while !Task.isCancelled && !isClosed {
            do {
                let connection = try await PostgresConnection.connect(
                    on: eventLoop, configuration: configuration,
                    id: connectionIDs.wrappingAdd(1, ordering: .relaxed).oldValue, logger: logger)
                if options.createTable {
                    try await connection.query(
                        "CREATE TABLE IF NOT EXISTS \(unescaped: options.tableName) (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)",
                        logger: logger)
                }
                let channels = state.withLock { state in
                    state.connection = connection
                    return state.channels
                }
                for channel in channels { addListener(channel, on: connection) }
                logger.info(wasConnected ? "reconnected to PostgreSQL, listening again" : "connected to PostgreSQL", metadata: [
                    "channels": "\(channels.count)",
                ])
                wasConnected = true
                failures = 0
                onConnected()
                try? await connection.closeFuture.get()
                state.withLock { if $0.connection === connection { $0.connection = nil } }
                if isClosed { return }
                logger.warning("lost the PostgreSQL connection: local delivery goes on, reconnecting")
            } catch {
                if isClosed { return }
                if failures == 0 || failures % 10 == 0 {
                    logger.warning("cannot reach PostgreSQL, retrying: \(String(reflecting: error))", metadata: ["failures": "\(failures + 1)"])
                }
            }
            failures += 1
            try? await Task.sleep(nanoseconds: UInt64(reconnectDelay(failures: failures).nanoseconds))
        }
    }

    /// Doubling from `reconnectDelay` up to `maxReconnectDelay`, ×(0.5…1.5) at random so
    /// that the nodes do not all come back at once.
    private func reconnectDelay(failures: Int) -> TimeAmount {
        let base = options.reconnectDelay.nanoseconds << min(max(0, failures - 1), 16)
        let capped = min(base, options.maxReconnectDelay.nanoseconds)
        return .nanoseconds(Int64(Double(capped) * Double.random(in: 0.5...1.5)))
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
            let slot = Slot(channel: channel, message: nil, ready: false)
            guard admit(slot) else { return }
            let fetch = fetch
            let logger = logger
            Task {
                var message: ClusterMessage?
                do {
                    message = try await fetch?(id)
                } catch {
                    logger.warning("cluster attachment \(id) not read: \(error)")
                }
                self.eventLoop.execute {
                    slot.message = message
                    slot.ready = true
                    self.drain()
                }
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
