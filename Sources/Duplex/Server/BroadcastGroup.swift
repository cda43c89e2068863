import NIOCore
import Synchronization

/// Connections that receive the same messages: a room, a topic, a pub/sub channel.
///
/// Members are kept per event loop, so a message sent to the group is framed once per loop
/// and each loop writes to its own members only: the sender's loop at once, every other
/// loop in one task. A member leaves by ``leave(_:)`` or when its connection closes.
///
/// ```swift
/// let lobby = BroadcastGroup()
/// let server = WebSocketServer { connection in
///     lobby.join(connection)
///     connection.onText { text in lobby.send(text) }
/// }
/// ```
public final class BroadcastGroup: Sendable {
    private struct Partition: Sendable {
        let eventLoop: EventLoop
        var members: Set<WebSocketConnection> = []
    }

    private let partitions = Mutex<[ObjectIdentifier: Partition]>([:])

    /// An empty group; it holds no event loop or connection until someone joins.
    public init() {}

    /// Adds a connection (server side); false if it was a member already or has closed.
    @discardableResult
    public func join(_ connection: WebSocketConnection) -> Bool {
        precondition(connection.role == .server, "BroadcastGroup takes server-side connections")
        let loop = connection.eventLoop
        let inserted = partitions.withLock { partitions in
            partitions[ObjectIdentifier(loop), default: Partition(eventLoop: loop)].members.insert(connection).inserted
        }
        if inserted { connection.noteMembership(in: self) }
        return inserted
    }

    /// Removes a connection; false if it was not a member.
    @discardableResult
    public func leave(_ connection: WebSocketConnection) -> Bool {
        let removed = partitions.withLock { partitions in
            let key = ObjectIdentifier(connection.eventLoop)
            guard partitions[key]?.members.remove(connection) != nil else { return false }
            if partitions[key]?.members.isEmpty == true { partitions.removeValue(forKey: key) }
            return true
        }
        if removed { connection.forgetMembership(in: self) }
        return removed
    }

    /// The number of members now (closed connections have already left).
    public var count: Int {
        partitions.withLock { $0.values.reduce(0) { $0 + $1.members.count } }
    }

    /// The members now, in no particular order (a snapshot: later joins and leaves do not
    /// change it).
    public var connections: [WebSocketConnection] {
        partitions.withLock { $0.values.flatMap(\.members) }
    }

    /// Sends a text message to every member.
    public func send(_ text: String) { send(.text(text)) }

    /// Sends a binary message to every member.
    public func send(_ data: ByteBuffer) { send(.binary(data)) }

    private func send(_ payload: OutboundPayload) {
        // Snapshots are references to each set's storage, not copies.
        let snapshot = partitions.withLock { Array($0.values) }
        var here: Set<WebSocketConnection>?
        for partition in snapshot {
            if partition.eventLoop.inEventLoop {
                here = partition.members
            } else {
                let members = partition.members
                partition.eventLoop.execute {
                    WebSocketServer.deliverOnLoop(payload, to: members, filter: nil)
                }
            }
        }
        if let here { WebSocketServer.deliverOnLoop(payload, to: here, filter: nil) }
    }
}
