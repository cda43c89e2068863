import NIOCore
import Synchronization

/// A selection of sockets of one namespace (`io.to("room").except("other")`) and what to
/// do with them. Values: each operator returns a new selection.
public struct SocketIOBroadcastOperator: Sendable {
    /// The namespace whose sockets are selected.
    public let namespace: SocketIONamespace
    /// The selection so far: rooms, exceptions and flags, as the adapter receives them.
    public private(set) var options: SocketIOBroadcastOptions

    init(namespace: SocketIONamespace, rooms: Set<String> = [], except: Set<String> = [],
         flags: SocketIOBroadcastOptions.Flags = .init()) {
        self.namespace = namespace
        self.options = SocketIOBroadcastOptions(rooms: rooms, except: except, flags: flags)
    }

    /// Also the sockets in these rooms.
    public func to(_ rooms: String...) -> Self { to(rooms) }
    /// Also the sockets in these rooms (a union with the rooms chosen before).
    public func to(_ rooms: some Sequence<String>) -> Self {
        var copy = self
        copy.options.rooms.formUnion(rooms)
        return copy
    }

    /// The same as ``to(_:)-(String...)``, under the reference server's other name.
    public func `in`(_ rooms: String...) -> Self { to(rooms) }

    /// Not the sockets in these rooms.
    public func except(_ rooms: String...) -> Self { except(rooms) }
    /// Not the sockets in these rooms, whatever rooms select them.
    public func except(_ rooms: some Sequence<String>) -> Self {
        var copy = self
        copy.options.except.formUnion(rooms)
        return copy
    }

    /// Dropped for clients that cannot take it right now.
    public var volatile: Self {
        var copy = self
        copy.options.flags.volatile = true
        return copy
    }

    /// This node only: with a multi-node adapter, the broadcast is not forwarded to the
    /// other nodes. No effect with the in-memory adapter.
    public var local: Self {
        var copy = self
        copy.options.flags.local = true
        return copy
    }

    /// Whether the event may be compressed for clients with permessage-deflate (true by
    /// default); `compress(false)` sends it plain (already compressed data, or a secret
    /// that must not share a compression context with attacker-chosen text).
    public func compress(_ compress: Bool) -> Self {
        var copy = self
        copy.options.flags.compress = compress
        return copy
    }

    /// How long `emitWithAck` waits for every answer (5 s when not set); the recipients drop
    /// their entries after it too.
    public func timeout(_ timeout: TimeAmount) -> Self {
        var copy = self
        copy.options.flags.timeout = timeout
        return copy
    }

    /// Sends the event with these arguments to every selected socket, encoded once.
    public func emit(_ name: String, _ arguments: JSONValue...) {
        emit(name, arguments: arguments)
    }

    /// Sends the event to every selected socket: encoded once.
    public func emit(_ name: String, arguments: [JSONValue]) {
        namespace.adapter.broadcast(.event(name, arguments, namespace: namespace.name), options: options)
    }

    /// Sends the event with one `Encodable` value as its argument (converted through
    /// `JSONEncoder`); throws when the value does not encode.
    public func emit(_ name: String, encoding value: some Encodable) throws {
        emit(name, arguments: [try JSONValue(encoding: value)])
    }

    /// Sends the event to every selected socket and collects their acknowledgements (the
    /// arguments of each). Throws ``SocketIOAckError/timeout(responses:)`` with the answers
    /// that came when some are missing after the timeout (`timeout(_:)`, 5 s by default).
    public func emitWithAck(_ name: String, _ arguments: JSONValue...) async throws -> [[JSONValue]] {
        try await emitWithAck(name, arguments: arguments)
    }

    /// Sends the event to every selected socket and collects their acknowledgements, as
    /// ``emitWithAck(_:_:)``.
    public func emitWithAck(_ name: String, arguments: [JSONValue]) async throws -> [[JSONValue]] {
        let id = namespace.nextAckID()
        let packet = SocketIOPacket.event(name, arguments, namespace: namespace.name, ackID: id)
        let collector = AckCollector()
        let adapter = namespace.adapter
        let options = options
        let timeout = options.flags.timeout ?? SocketIOBroadcastOptions.defaultAckTimeout
        return try await withCheckedThrowingContinuation { continuation in
            collector.start(continuation)
            adapter.broadcastWithAck(packet, options: options, clientCount: { collector.expect($0) }, ack: { collector.add($0) })
            Task { collector.servers(await adapter.serverCount()) }
            Task {
                try? await Task.sleep(nanoseconds: UInt64(max(0, timeout.nanoseconds)))
                if collector.timeOut() { namespace.metrics.acksTimedOut.increment() }
            }
        }
    }

    /// Snapshots of the selected sockets (on every node).
    public func fetchSockets() async throws -> [SocketIORemoteSocket] {
        try await namespace.adapter.fetchSockets(options)
    }

    /// Makes every selected socket join these rooms (on every node, unless `local`).
    public func socketsJoin(_ rooms: String...) { socketsJoin(rooms) }
    /// Makes every selected socket join these rooms (on every node, unless `local`).
    public func socketsJoin(_ rooms: [String]) {
        namespace.adapter.addSockets(options, rooms: Set(rooms))
    }

    /// Makes every selected socket leave these rooms.
    public func socketsLeave(_ rooms: String...) { socketsLeave(rooms) }
    /// Makes every selected socket leave these rooms.
    public func socketsLeave(_ rooms: [String]) {
        namespace.adapter.delSockets(options, rooms: Set(rooms))
    }

    /// Disconnects the selected sockets (`close`: their whole connection).
    public func disconnectSockets(close: Bool = false) {
        namespace.adapter.disconnectSockets(options, close: close)
    }
}

/// Gathers the acknowledgements of a broadcast: done when every node has reported its
/// recipient count and every recipient has answered, or at the timeout.
final class AckCollector: Sendable {
    private struct State {
        var continuation: CheckedContinuation<[[JSONValue]], Error>?
        var expectedServers: Int?
        var reportedServers = 0
        var expectedClients = 0
        var responses: [[JSONValue]] = []
    }

    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<[[JSONValue]], Error>) {
        state.withLock { $0.continuation = continuation }
    }

    func expect(_ clients: Int) {
        update { $0.reportedServers += 1; $0.expectedClients += clients }
    }

    func add(_ response: [JSONValue]) {
        update { $0.responses.append(response) }
    }

    func servers(_ count: Int) {
        update { $0.expectedServers = count }
    }

    /// Gives up waiting; true when answers were still missing.
    @discardableResult
    func timeOut() -> Bool {
        let (continuation, responses) = state.withLock { state in
            let continuation = state.continuation
            state.continuation = nil
            return (continuation, state.responses)
        }
        continuation?.resume(throwing: SocketIOAckError.timeout(responses: responses))
        return continuation != nil
    }

    private func update(_ change: (inout State) -> Void) {
        let finished: (CheckedContinuation<[[JSONValue]], Error>, [[JSONValue]])? = state.withLock { state in
            change(&state)
            guard let continuation = state.continuation, let servers = state.expectedServers,
                  state.reportedServers >= servers, state.responses.count >= state.expectedClients
            else { return nil }
            state.continuation = nil
            return (continuation, state.responses)
        }
        if let (continuation, responses) = finished {
            continuation.resume(returning: responses)
        }
    }
}
