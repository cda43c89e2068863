import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// A process's one connection to PostgreSQL, kept open: it reconnects with back-off (and
/// log lines) when lost, LISTENs again on every channel after each reconnection, and runs
/// statements on whatever connection is current. Used by the Socket.IO cluster adapter and
/// by the chat on several nodes.
package final class PostgresLink: Sendable {
    /// Called for each notification on a channel, on the link's event loop, in order.
    package typealias Listener = @Sendable (_ channel: String, _ payload: String) -> Void

    private struct State {
        var connection: PostgresConnection?
        var listeners: [(channel: String, listener: Listener)] = []
        /// The current connection's listener of each channel (stopping it sends UNLISTEN).
        var listenContexts: [String: PostgresListenContext] = [:]
        var closed = false
        var task: Task<Void, Never>?
    }

    package let configuration: PostgresConnection.Configuration
    package let eventLoop: EventLoop
    package let logger: Logger
    private let reconnectDelay: TimeAmount
    private let maxReconnectDelay: TimeAmount
    private let prepare: @Sendable (PostgresConnection) async throws -> Void
    private let onConnected: @Sendable () -> Void
    private let state = Mutex(State())
    private let connectionIDs = Atomic<Int>(0)

    /// - Parameters:
    ///   - prepare: runs on each new connection before it is used (creating tables…).
    ///   - onConnected: runs once each new connection is ready and listening.
    package init(configuration: PostgresConnection.Configuration, eventLoop: EventLoop, logger: Logger,
                 reconnectDelay: TimeAmount = .milliseconds(500), maxReconnectDelay: TimeAmount = .seconds(2),
                 prepare: @escaping @Sendable (PostgresConnection) async throws -> Void = { _ in },
                 onConnected: @escaping @Sendable () -> Void = {}) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.logger = logger
        self.reconnectDelay = reconnectDelay
        self.maxReconnectDelay = maxReconnectDelay
        self.prepare = prepare
        self.onConnected = onConnected
    }

    /// Starts connecting (and reconnecting whenever the connection is lost).
    package func start() {
        let task = Task { await self.keepConnected() }
        state.withLock { $0.task = task }
    }

    /// Stops reconnecting and closes the connection.
    package func close() async {
        let (connection, task) = state.withLock { state in
            state.closed = true
            defer { state.connection = nil }
            return (state.connection, state.task)
        }
        task?.cancel()
        try? await connection?.close()
    }

    package var isClosed: Bool { state.withLock { $0.closed } }

    /// The connection if there is one open now.
    package var openConnection: PostgresConnection? {
        state.withLock { state in state.connection.flatMap { $0.isClosed ? nil : $0 } }
    }

    /// The connection once there is one; nil when closing (or the caller was cancelled).
    package func currentConnection() async -> PostgresConnection? {
        while !Task.isCancelled {
            let (connection, closed) = state.withLock { ($0.connection, $0.closed) }
            if closed { return nil }
            if let connection, !connection.isClosed { return connection }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        return nil
    }

    /// Runs `body` on the current connection (waiting for one), a second time on the next
    /// connection when the first went away under it. Nil when the link is closed.
    package func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T? {
        for attempt in 0..<2 {
            guard let connection = await currentConnection() else { return nil }
            do {
                return try await body(connection)
            } catch {
                if connection.isClosed && attempt == 0 { continue }
                throw error
            }
        }
        return nil
    }

    /// LISTENs on `channel` from now on (and after every reconnection); each notification
    /// goes to `listener`. One listener per channel: later ones are ignored.
    package func listen(_ channel: String, _ listener: @escaping Listener) {
        let connection: PostgresConnection? = state.withLock { state in
            guard !state.listeners.contains(where: { $0.channel == channel }) else { return nil }
            state.listeners.append((channel, listener))
            return state.connection
        }
        if let connection { addListener(channel, listener, on: connection) }
    }

    /// Stops listening on `channel` (the driver sends UNLISTEN), now and after reconnections.
    package func unlisten(_ channel: String) {
        let context = state.withLock { state in
            state.listeners.removeAll { $0.channel == channel }
            return state.listenContexts.removeValue(forKey: channel)
        }
        context?.stop()
    }

    private func addListener(_ channel: String, _ listener: @escaping Listener, on connection: PostgresConnection) {
        // The driver sends LISTEN; the handler runs on the connection's loop (ours).
        let context = connection.addListener(channel: channel) { _, notification in
            listener(notification.channel, notification.payload)
        }
        let wanted = state.withLock { state -> Bool in
            // unlisten() may have run meanwhile: then this listener must not stay.
            guard state.listeners.contains(where: { $0.channel == channel }) else { return false }
            if state.connection === connection { state.listenContexts[channel] = context }
            return true
        }
        if !wanted { context.stop() }
    }

    private func keepConnected() async {
        var failures = 0
        var wasConnected = false
        while !Task.isCancelled && !isClosed {
            do {
                let connection = try await PostgresConnection.connect(
                    on: eventLoop, configuration: configuration,
                    id: connectionIDs.wrappingAdd(1, ordering: .relaxed).oldValue, logger: logger)
                try await prepare(connection)
                let listeners = state.withLock { state in
                    state.connection = connection
                    state.listenContexts = [:]
                    return state.listeners
                }
                for (channel, listener) in listeners { addListener(channel, listener, on: connection) }
                logger.info(wasConnected ? "reconnected to PostgreSQL, listening again" : "connected to PostgreSQL", metadata: [
                    "channels": "\(listeners.count)",
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
            try? await Task.sleep(nanoseconds: UInt64(delay(failures: failures).nanoseconds))
        }
    }

    /// Doubling from `reconnectDelay` up to `maxReconnectDelay`, ×(0.5…1.5) at random so
    /// that the nodes do not all come back at once.
    private func delay(failures: Int) -> TimeAmount {
        let base = reconnectDelay.nanoseconds << min(max(0, failures - 1), 16)
        let capped = min(base, maxReconnectDelay.nanoseconds)
        return .nanoseconds(Int64(Double(capped) * Double.random(in: 0.5...1.5)))
    }
}
