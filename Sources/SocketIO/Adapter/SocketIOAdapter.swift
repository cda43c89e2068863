import NIOCore
import Synchronization
import CoreMetrics

/// Which sockets a broadcast or a bulk operation reaches.
public struct SocketIOBroadcastOptions: Sendable, Hashable {
    /// Modifiers of a broadcast.
    public struct Flags: Sendable, Hashable {
        /// Drop the packet for clients whose transport cannot take it right now.
        public var volatile = false
        /// This node only (a multi-node adapter does not forward it).
        public var local = false
        /// For broadcasts with acknowledgements: how long to wait for them.
        public var timeout: TimeAmount?
        /// False: not compressed, even to clients with permessage-deflate (`compress(false)`).
        public var compress = true

        /// Flags with these values; none set by default (compression allowed).
        public init(volatile: Bool = false, local: Bool = false, timeout: TimeAmount? = nil, compress: Bool = true) {
            self.volatile = volatile
            self.local = local
            self.timeout = timeout
            self.compress = compress
        }
    }

    /// Sockets in any of these rooms; empty: every socket of the namespace.
    public var rooms: Set<String>
    /// Minus the sockets in any of these rooms.
    public var except: Set<String>
    /// Volatile, local, compress, and the acknowledgement timeout.
    public var flags: Flags

    /// A selection; the defaults select every socket of the namespace.
    public init(rooms: Set<String> = [], except: Set<String> = [], flags: Flags = Flags()) {
        self.rooms = rooms
        self.except = except
        self.flags = flags
    }
}

extension SocketIOBroadcastOptions {
    /// How long a broadcast waits for acknowledgements when no `timeout` is set.
    public static let defaultAckTimeout: TimeAmount = .seconds(5)
}

/// The acknowledgement a broadcast asks each recipient for: the shared ack id, how long the
/// recipients keep waiting for the answer, and what gets each answer.
public struct SocketIOBroadcastAck: Sendable {
    /// The ack id put in the EVENT packet, shared by every recipient.
    public let id: Int
    /// How long each recipient waits for its client's answer before dropping the entry.
    public let timeout: TimeAmount
    /// Gets each client's answer (its arguments), once per client that answers.
    public let callback: @Sendable ([JSONValue]) -> Void

    /// An acknowledgement request from its parts.
    public init(id: Int, timeout: TimeAmount, callback: @escaping @Sendable ([JSONValue]) -> Void) {
        self.id = id
        self.timeout = timeout
        self.callback = callback
    }
}

/// The sockets of one namespace on this node, by id: what an adapter delivers to.
public final class SocketIOLocalSockets: Sendable {
    private let sockets = Mutex<[String: SocketIOSocket]>([:])

    /// No sockets yet (the namespace adds and removes them as they connect and leave).
    public init() {}

    /// The local socket with this id, or nil.
    public func socket(id: String) -> SocketIOSocket? {
        sockets.withLock { $0[id] }
    }

    /// Every local socket of the namespace (a snapshot).
    public var all: [SocketIOSocket] {
        sockets.withLock { Array($0.values) }
    }

    /// The number of local sockets of the namespace.
    public var count: Int { sockets.withLock { $0.count } }

    func add(_ socket: SocketIOSocket) {
        sockets.withLock { $0[socket.id] = socket }
    }

    func remove(id: String) {
        _ = sockets.withLock { $0.removeValue(forKey: id) }
    }
}

/// What an adapter is created with: its namespace's name and local sockets, the
/// namespace's ack ids (a broadcast with acks from another node needs one) and its
/// server-side listeners (what `serverSideEmit` from another node reaches).
public struct SocketIOAdapterContext: Sendable {
    /// The name of the namespace the adapter serves (`/`, `/chat`...).
    public let namespace: String
    /// The namespace's sockets on this node: where the adapter delivers packets.
    public let sockets: SocketIOLocalSockets
    /// The namespace's ack ids (a broadcast with acks from another node takes one).
    public let ackIDs: SocketIOAckIDs
    /// What `serverSideEmit` from another node reaches.
    public let serverSideListeners: SocketIOServerSideListeners
    /// The namespace's instruments (an adapter keeps `rooms` up to date).
    package let metrics: SocketIONamespaceMetrics
    /// The server's connection state recovery settings; nil when recovery is off.
    public let recovery: SocketIOConnectionStateRecovery?

    /// A context of its own (an adapter made outside a server, as in tests); its metrics go
    /// to the process-wide `MetricsSystem`.
    public init(namespace: String, sockets: SocketIOLocalSockets = SocketIOLocalSockets(),
                ackIDs: SocketIOAckIDs = SocketIOAckIDs(),
                serverSideListeners: SocketIOServerSideListeners = SocketIOServerSideListeners(),
                recovery: SocketIOConnectionStateRecovery? = nil) {
        self.init(namespace: namespace, sockets: sockets, ackIDs: ackIDs, serverSideListeners: serverSideListeners,
                  metrics: SocketIONamespaceMetrics(namespace: namespace, factory: MetricsSystem.factory), recovery: recovery)
    }

    /// The same context (same sockets, ack ids, listeners, metrics) with other recovery
    /// settings: what a cluster adapter gives its in-memory part.
    public func with(recovery: SocketIOConnectionStateRecovery?) -> SocketIOAdapterContext {
        SocketIOAdapterContext(namespace: namespace, sockets: sockets, ackIDs: ackIDs, serverSideListeners: serverSideListeners,
                               metrics: metrics, recovery: recovery)
    }

    package init(namespace: String, sockets: SocketIOLocalSockets, ackIDs: SocketIOAckIDs,
                 serverSideListeners: SocketIOServerSideListeners, metrics: SocketIONamespaceMetrics,
                 recovery: SocketIOConnectionStateRecovery? = nil) {
        self.recovery = recovery
        self.namespace = namespace
        self.sockets = sockets
        self.ackIDs = ackIDs
        self.serverSideListeners = serverSideListeners
        self.metrics = metrics
    }
}

/// The ack ids of one namespace: every packet that asks for an acknowledgement takes the
/// next one, so that the ids a socket waits for never collide.
public final class SocketIOAckIDs: Sendable {
    private let counter = Atomic<Int>(0)

    /// Starts at 0.
    public init() {}

    /// The next id (atomic: any thread).
    public func next() -> Int {
        counter.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}

/// Rooms and broadcasts of one namespace go through its adapter. The in-memory adapter
/// (``InMemoryAdapter``) serves one node; a multi-node adapter forwards broadcasts and bulk
/// operations to the other nodes (unless `flags.local`) and delivers locally through an
/// in-memory adapter. The `async` methods may ask other nodes.
///
/// Room membership and local delivery are synchronous; delivery itself happens on each
/// recipient's event loop.
public protocol SocketIOAdapter: AnyObject, Sendable {
    /// Adds a socket to rooms.
    func addAll(_ id: String, rooms: Set<String>)
    /// Removes a socket from a room.
    func del(_ id: String, room: String)
    /// Removes a socket from every room (it disconnected).
    func delAll(_ id: String)
    /// The rooms of a local socket; nil when unknown.
    func socketRooms(_ id: String) -> Set<String>?
    /// The ids of the sockets in any of `rooms` (all sockets when empty).
    func sockets(in rooms: Set<String>) async -> Set<String>
    /// Sends a packet (its namespace already set) to the sockets `options` select, encoded
    /// once for all of them.
    func broadcast(_ packet: SocketIOPacket, options: SocketIOBroadcastOptions)
    /// Like `broadcast`, for a packet with an ack id: `clientCount` is called with the
    /// number of recipients (once per node), `ack` with each client's answer.
    func broadcastWithAck(_ packet: SocketIOPacket, options: SocketIOBroadcastOptions,
                          clientCount: @escaping @Sendable (Int) -> Void,
                          ack: @escaping @Sendable ([JSONValue]) -> Void)
    /// How many nodes there are (1 for the in-memory adapter).
    func serverCount() async -> Int
    /// The sockets `options` select, on every node (unless `flags.local`). Throws
    /// ``SocketIOClusterError`` when other nodes do not all answer in time.
    func fetchSockets(_ options: SocketIOBroadcastOptions) async throws -> [SocketIORemoteSocket]
    /// Makes the selected sockets join `rooms`.
    func addSockets(_ options: SocketIOBroadcastOptions, rooms: Set<String>)
    /// Makes the selected sockets leave `rooms`.
    func delSockets(_ options: SocketIOBroadcastOptions, rooms: Set<String>)
    /// Disconnects the selected sockets (`close`: their whole connection).
    func disconnectSockets(_ options: SocketIOBroadcastOptions, close: Bool)
    /// The server is shutting down.
    func close() async
    /// Sends `[event, arguments...]` to the server-side listeners of the namespace on the
    /// other nodes (not this one).
    func serverSideEmit(_ packet: [JSONValue])
    /// Like `serverSideEmit`, and collects one answer from each other node. Throws
    /// ``SocketIOClusterError/timeout(missing:responses:)`` with the answers that came when
    /// some node did not answer within `timeout`.
    func serverSideEmitWithAck(_ packet: [JSONValue], timeout: TimeAmount) async throws -> [JSONValue]

    // Connection state recovery (only called when ``SocketIOAdapterContext/recovery`` is set).

    /// Keeps the session of a socket that disconnected for a recoverable reason.
    func persistSession(_ session: SocketIOSession)
    /// Takes out the session `pid` when it has not expired and the packet `offset` is still
    /// logged; nil otherwise. Both come from the client: they are looked up, never trusted.
    func restoreSession(pid: String, offset: String) async -> SocketIOSession?
    /// Joins a recovered socket (its session's `sid`, already among the local sockets) to the
    /// session's rooms and returns the logged packets after `offset` it would have received,
    /// in order. Atomic with broadcasts: every later packet reaches the socket live, every
    /// earlier one is returned, none both.
    func rejoin(_ session: SocketIOSession, after offset: String) -> [SocketIOEncodedPacket]
}

extension SocketIOAdapter {
    /// No recovery: nothing is kept.
    public func persistSession(_ session: SocketIOSession) {}
    /// No recovery: no session comes back.
    public func restoreSession(pid: String, offset: String) async -> SocketIOSession? { nil }
    /// No recovery: joins the rooms, nothing was logged.
    public func rejoin(_ session: SocketIOSession, after offset: String) -> [SocketIOEncodedPacket] {
        addAll(session.sid, rooms: session.rooms.union([session.sid]))
        return []
    }
}

extension SocketIOAdapter {
    /// One node: there is no other server to tell.
    public func serverSideEmit(_ packet: [JSONValue]) {}

    /// One node: no other server, so no answers.
    public func serverSideEmitWithAck(_ packet: [JSONValue], timeout: TimeAmount) async throws -> [JSONValue] { [] }
}

/// Why a request to the other nodes of a cluster failed.
public enum SocketIOClusterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Some nodes did not answer in time; `responses`: the answers that came (for
    /// `serverSideEmitWithAck`).
    case timeout(missing: Int, responses: [JSONValue])
    /// Too many requests wait for answers already.
    case tooManyPendingRequests(limit: Int)

    public var description: String {
        switch self {
        // The reference adapter's text.
        case .timeout(let missing, _): "timeout reached: missing \(missing) responses"
        case .tooManyPendingRequests(let limit): "too many pending cluster requests (\(limit))"
        }
    }
}

/// A socket as `fetchSockets` returns it: a snapshot of its id, handshake, rooms and data,
/// with the operations that also work for a socket on another node.
///
/// The operations go through the namespace's adapter to the room named by the socket's
/// id, so they reach the socket on whichever node it is.
public struct SocketIORemoteSocket: Sendable {
    /// The socket id.
    public let id: String
    /// The name of the socket's namespace.
    public let namespace: String
    /// What the client sent when it connected.
    public let handshake: SocketIOHandshake
    /// The rooms the socket was in when the snapshot was taken (its own id among them).
    public let rooms: Set<String>
    /// The socket's ``SocketIOSocket/data`` when the snapshot was taken.
    public let data: JSONValue
    private let adapter: any SocketIOAdapter

    /// A snapshot of a socket; operations go through the namespace's adapter, so they also
    /// reach a socket on another node.
    public init(id: String, namespace: SocketIONamespace, handshake: SocketIOHandshake, rooms: Set<String>, data: JSONValue) {
        self.init(id: id, namespace: namespace.name, adapter: namespace.adapter, handshake: handshake, rooms: rooms, data: data)
    }

    /// A socket another node reported, reached through `adapter`.
    public init(id: String, namespace: String, adapter: any SocketIOAdapter, handshake: SocketIOHandshake,
                rooms: Set<String>, data: JSONValue) {
        self.id = id
        self.namespace = namespace
        self.handshake = handshake
        self.rooms = rooms
        self.data = data
        self.adapter = adapter
    }

    private var only: SocketIOBroadcastOptions { SocketIOBroadcastOptions(rooms: [id]) }

    /// Sends the event to this socket, wherever it is connected.
    public func emit(_ event: String, _ arguments: JSONValue...) {
        emit(event, arguments: arguments)
    }

    /// Sends the event to this socket, wherever it is connected.
    public func emit(_ event: String, arguments: [JSONValue]) {
        adapter.broadcast(.event(event, arguments, namespace: namespace), options: only)
    }

    /// Makes the socket join these rooms.
    public func join(_ rooms: String...) {
        adapter.addSockets(only, rooms: Set(rooms))
    }

    /// Makes the socket leave these rooms.
    public func leave(_ rooms: String...) {
        adapter.delSockets(only, rooms: Set(rooms))
    }

    /// Disconnects the socket from its namespace; with `close`, its whole connection.
    public func disconnect(close: Bool = false) {
        adapter.disconnectSockets(only, close: close)
    }
}
