import NIOCore
import Synchronization

/// A selection of sockets of one namespace (`io.to("room").except("other")`) and what to
/// do with them. Values: each operator returns a new selection.
public struct SocketIOBroadcastOperator: Sendable {
    public let namespace: SocketIONamespace
    public private(set) var options: SocketIOBroadcastOptions

    init(namespace: SocketIONamespace, rooms: Set<String> = [], except: Set<String> = [],
         flags: SocketIOBroadcastOptions.Flags = .init()) {
        self.namespace = namespace
        self.options = SocketIOBroadcastOptions(rooms: rooms, except: except, flags: flags)
    }

    /// Also the sockets in these rooms.
    public func to(_ rooms: String...) -> Self { to(rooms) }
    public func to(_ rooms: some Sequence<String>) -> Self {
        var copy = self
        copy.options.rooms.formUnion(rooms)
        return copy
    }

    public func `in`(_ rooms: String...) -> Self { to(rooms) }

    /// Not the sockets in these rooms.
    public func except(_ rooms: String...) -> Self { except(rooms) }
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

    /// This node only.
    public var local: Self {
        var copy = self
        copy.options.flags.local = true
        return copy
    }

    /// How long `emitWithAck` waits.
    public func timeout(_ timeout: TimeAmount) -> Self {
        var copy = self
        copy.options.flags.timeout = timeout
        return copy
    }

    public func emit(_ name: String, _ arguments: JSONValue...) {
        emit(name, arguments: arguments)
    }

    /// Sends the event to every selected socket: encoded once.
    public func emit(_ name: String, arguments: [JSONValue]) {
        namespace.adapter.broadcast(.event(name, arguments, namespace: namespace.name), options: options)
    }

    public func emit(_ name: String, encoding value: some Encodable) throws {
        emit(name, arguments: [try JSONValue(encoding: value)])
    }

    /// Sends the event to every selected socket and collects their acknowledgements (the
    /// arguments of each). Throws ``SocketIOAckError/timeout(responses:)`` with the answers
    /// that came when some are missing after the timeout (`timeout(_:)`, 5 s by default).
    public func emitWithAck(_ name: String, _ arguments: JSONValue...) async throws -> [[JSONValue]] {
        try await emitWithAck(name, arguments: arguments)
    }

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
                collector.timeOut()
            }
        }
    }

    /// Snapshots of the selected sockets (on every node).
    public func fetchSockets() async throws -> [SocketIORemoteSocket] {
        try await namespace.adapter.fetchSockets(options)
    }

    public func socketsJoin(_ rooms: String...) { socketsJoin(rooms) }
    public func socketsJoin(_ rooms: [String]) {
        namespace.adapter.addSockets(options, rooms: Set(rooms))
    }

    public func socketsLeave(_ rooms: String...) { socketsLeave(rooms) }
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

    func timeOut() {
        let (continuation, responses) = state.withLock { state in
            let continuation = state.continuation
            state.continuation = nil
            return (continuation, state.responses)
        }
        continuation?.resume(throwing: SocketIOAckError.timeout(responses: responses))
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
