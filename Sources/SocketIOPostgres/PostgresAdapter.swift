import Logging
import NIOCore
import SocketIO
import Synchronization

/// The adapter of one namespace on a node of a cluster on PostgreSQL: rooms and delivery
/// are local (an ``InMemoryAdapter``); broadcasts and bulk operations are also published on
/// the namespace's channel (unless `flags.local`), and what other nodes publish is applied
/// here. Speaks the protocol of Node's `@socket.io/postgres-adapter` 0.5.
///
/// Made by ``PostgresCluster``.
public final class PostgresAdapter: SocketIOAdapter {
    public let context: SocketIOAdapterContext
    /// This node's id in the namespace (16 hex digits, new for every process).
    public let uid: String
    let channel: String
    let local: InMemoryAdapter
    let notifier: PostgresNotifier
    let options: PostgresAdapterOptions
    private let membership: NodeMembership
    private let requests: ClusterRequests
    let logger: Logger
    /// When the heartbeat timer was last restarted (by a message that counts as one).
    private let heartbeatRestarted = Mutex(NIODeadline.now())
    private let sweep = Mutex<RepeatedTask?>(nil)
    private let onClose: @Sendable (PostgresAdapter) -> Void
    /// Connection state recovery across nodes (nil when off); see RecoveryDatabase.
    let recovery: RecoveryDatabase?
    /// Recovering sockets whose rooms changed since the last write of their session.
    let changedSessions = Mutex<Set<String>>([])
    /// Sockets whose session was just kept (their `delAll` must not delete it).
    let keptSessions = Mutex<Set<String>>([])
    let recoveryTimers = Mutex<[RepeatedTask]>([])
    /// Sessions restored from the table, waiting for their rejoin: the packets read there
    /// (encoded, with their offsets) and the offset they go up to. One per CONNECT under way.
    let readFromTable = Mutex<[String: (packets: [SocketIOEncodedPacket], through: UInt64)]>([:])
    /// Whether a write of the changed sessions is scheduled already.
    let sessionWriteScheduled = Atomic<Bool>(false)
    /// Loggable broadcasts sent without an offset so far (the log says so now and then).
    let unloggedBroadcasts = Atomic<Int>(0)

    init(context: SocketIOAdapterContext, notifier: PostgresNotifier, options: PostgresAdapterOptions, logger: Logger,
         recovery: RecoveryDatabase? = nil, onClose: @escaping @Sendable (PostgresAdapter) -> Void = { _ in }) {
        self.recovery = recovery
        self.context = context
        self.uid = Self.randomID()
        self.channel = options.channelPrefix + "#" + context.namespace
        self.local = InMemoryAdapter(context: context)
        self.notifier = notifier
        self.options = options
        self.membership = NodeMembership(timeout: options.heartbeatTimeout)
        self.requests = ClusterRequests(eventLoop: notifier.eventLoop, limit: options.maxPendingRequests)
        self.logger = logger
        self.onClose = onClose
    }

    /// 8 random bytes in hex, as the reference makes uids and request ids.
    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Says hello and starts the membership sweep (once a second).
    func start() {
        announce()
        let task = notifier.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak self] _ in
            self?.sweepNodes()
        }
        sweep.withLock { $0 = task }
        startRecovery()
    }

    /// INITIAL_HEARTBEAT: the others answer at once, so the node count is right quickly
    /// (at start and after each reconnection to PostgreSQL).
    func announce() {
        publish(.initialHeartbeat)
    }

    private func sweepNodes() {
        for gone in membership.sweep() {
            logger.info("cluster node dropped: silent too long", metadata: ["node": "\(gone)", "namespace": "\(context.namespace)"])
            requests.nodeLeft(gone)
        }
        let due = heartbeatRestarted.withLock { NIODeadline.now() - $0 >= options.heartbeatInterval }
        if due { publish(.heartbeat) }
    }

    // MARK: - Publishing

    /// The message types that restart the heartbeat timer, as in the reference: a node
    /// that only broadcasts still sends heartbeats.
    private static func restartsHeartbeat(_ type: ClusterMessageType) -> Bool {
        switch type {
        case .initialHeartbeat, .heartbeat, .fetchSockets, .serverSideEmit, .adapterClose: true
        default: false
        }
    }

    func publish(_ type: ClusterMessageType, _ data: JSONObject? = nil, restartHeartbeat: Bool? = nil) {
        if restartHeartbeat ?? Self.restartsHeartbeat(type) {
            heartbeatRestarted.withLock { $0 = .now() }
        }
        notifier.publish(ClusterMessage(type: type, uid: uid, nsp: context.namespace, data: data), on: channel)
    }

    // MARK: - Rooms (local)

    public func addAll(_ id: String, rooms: Set<String>) {
        local.addAll(id, rooms: rooms)
        sessionChanged(id)
    }
    public func del(_ id: String, room: String) {
        local.del(id, room: room)
        sessionChanged(id)
    }
    public func delAll(_ id: String) {
        sessionEnded(id)
        local.delAll(id)
    }
    public func socketRooms(_ id: String) -> Set<String>? { local.socketRooms(id) }
    public func sockets(in rooms: Set<String>) async -> Set<String> { await local.sockets(in: rooms) }

    // MARK: - Operations

    public func broadcast(_ packet: SocketIOPacket, options: SocketIOBroadcastOptions) {
        if !options.flags.local {
            if publishLogged(packet, options: options) { return }
            publish(.broadcast, ["packet": packet.clusterJSON, "opts": options.clusterJSON])
        }
        deliverUnlogged(packet, options: options)
    }

    public func broadcastWithAck(_ packet: SocketIOPacket, options: SocketIOBroadcastOptions,
                                 clientCount: @escaping @Sendable (Int) -> Void,
                                 ack: @escaping @Sendable ([JSONValue]) -> Void) {
        if !options.flags.local {
            let requestID = Self.randomID()
            let timeout = options.flags.timeout ?? SocketIOBroadcastOptions.defaultAckTimeout
            if requests.startAck(id: requestID, request: .init(clientCount: clientCount, ack: ack), timeout: timeout) {
                publish(.broadcast, ["packet": packet.clusterJSON, "requestId": .string(requestID), "opts": options.clusterJSON],
                        restartHeartbeat: true)
            } else {
                logger.warning("broadcast with acks reaches this node only: too many requests pending", metadata: [
                    "limit": "\(requests.limit)", "namespace": "\(context.namespace)",
                ])
            }
        }
        local.broadcastWithAck(packet, options: options, clientCount: clientCount, ack: ack)
    }

    public func serverCount() async -> Int { 1 + membership.count }

    public func fetchSockets(_ options: SocketIOBroadcastOptions) async throws -> [SocketIORemoteSocket] {
        let here = local.localRecipients(options).map(\.remote)
        let peers = membership.peers
        guard !options.flags.local, !peers.isEmpty else { return here }
        let requestID = Self.randomID()
        let answers = try await gather(id: requestID, from: peers, timeout: options.flags.timeout ?? self.options.requestTimeout) {
            self.publish(.fetchSockets, ["opts": options.clusterJSON, "requestId": .string(requestID)])
        }
        return here + answers.compactMap { RemoteSocketCoding.socket($0, namespace: context.namespace, adapter: self) }
    }

    public func addSockets(_ options: SocketIOBroadcastOptions, rooms: Set<String>) {
        if !options.flags.local {
            publish(.socketsJoin, ["opts": options.clusterJSON, "rooms": .array(rooms.sorted().map { .string($0) })])
        }
        local.addSockets(options, rooms: rooms)
    }

    public func delSockets(_ options: SocketIOBroadcastOptions, rooms: Set<String>) {
        if !options.flags.local {
            publish(.socketsLeave, ["opts": options.clusterJSON, "rooms": .array(rooms.sorted().map { .string($0) })])
        }
        local.delSockets(options, rooms: rooms)
    }

    public func disconnectSockets(_ options: SocketIOBroadcastOptions, close: Bool) {
        if !options.flags.local {
            publish(.disconnectSockets, ["opts": options.clusterJSON, "close": .bool(close)])
        }
        local.disconnectSockets(options, close: close)
    }

    public func serverSideEmit(_ packet: [JSONValue]) {
        publish(.serverSideEmit, ["packet": .array(packet)])
    }

    public func serverSideEmitWithAck(_ packet: [JSONValue], timeout: TimeAmount) async throws -> [JSONValue] {
        let peers = membership.peers
        guard !peers.isEmpty else { return [] }
        let requestID = Self.randomID()
        return try await gather(id: requestID, from: peers, timeout: timeout) {
            self.publish(.serverSideEmit, ["requestId": .string(requestID), "packet": .array(packet)])
        }
    }

    /// Sends a request and waits for one answer from each of `peers` (fewer when some
    /// leave meanwhile).
    private func gather(id: String, from peers: Set<String>, timeout: TimeAmount,
                        send: @escaping @Sendable () -> Void) async throws -> [JSONValue] {
        try await withCheckedThrowingContinuation { continuation in
            let started = requests.startGathering(id: id, nodes: peers, initial: [], timeout: timeout) { result in
                continuation.resume(with: result.mapError { $0 as Error })
            }
            if started { send() }
        }
    }

    public func close() async {
        recoveryTimers.withLock { timers in timers.forEach { $0.cancel() }; timers = [] }
        publish(.adapterClose)
        sweep.withLock { $0?.cancel(); $0 = nil }
        requests.cancelAll()
        onClose(self)
    }

    // MARK: - Receiving

    /// A message on this namespace's channel (on the notifier's loop, in order).
    func receive(_ message: ClusterMessage) {
        guard message.uid != uid else {
            // Our own logged broadcast, back with its offset: delivered here now, in the
            // order every node delivers it.
            if message.type == .broadcast, let offset = message.offset { receiveLogged(message.data ?? [:], offset: offset) }
            return
        }
        // The emitter sends no nsp: the channel says which namespace (Node would drop it).
        if let nsp = message.nsp, nsp != context.namespace { return }
        if !message.uid.isEmpty, message.uid != ClusterMessage.emitterUID {
            membership.heard(message.uid)
        }
        let data = message.data ?? [:]
        switch message.type {
        case .initialHeartbeat:
            publish(.heartbeat)
        case .heartbeat:
            break
        case .adapterClose:
            if membership.remove(message.uid) {
                logger.info("cluster node left", metadata: ["node": "\(message.uid)", "namespace": "\(context.namespace)"])
            }
            requests.nodeLeft(message.uid)
        case .broadcast:
            if let offset = message.offset, data["requestId"] == nil {
                receiveLogged(data, offset: offset)
            } else {
                receiveBroadcast(data, from: message.uid)
            }
        case .socketsJoin:
            local.addSockets(SocketIOBroadcastOptions(clusterJSON: data["opts"]), rooms: Self.rooms(data["rooms"]))
        case .socketsLeave:
            local.delSockets(SocketIOBroadcastOptions(clusterJSON: data["opts"]), rooms: Self.rooms(data["rooms"]))
        case .disconnectSockets:
            local.disconnectSockets(SocketIOBroadcastOptions(clusterJSON: data["opts"]), close: data["close"]?.boolValue ?? false)
        case .fetchSockets:
            guard let requestID = data["requestId"]?.stringValue else { return }
            let sockets = local.localRecipients(SocketIOBroadcastOptions(clusterJSON: data["opts"])).map { RemoteSocketCoding.json($0.remote) }
            publish(.fetchSocketsResponse, ["requestId": .string(requestID), "sockets": .array(sockets)])
        case .fetchSocketsResponse:
            guard let requestID = data["requestId"]?.stringValue else { return }
            requests.answer(id: requestID, from: message.uid, responses: data["sockets"]?.arrayValue ?? [])
        case .serverSideEmit:
            let packet = data["packet"]?.arrayValue ?? []
            guard let requestID = data["requestId"]?.stringValue else {
                context.serverSideListeners.dispatch(packet)
                return
            }
            context.serverSideListeners.dispatch(packet) { [weak self] arguments in
                self?.publish(.serverSideEmitResponse, ["requestId": .string(requestID), "packet": arguments.first ?? .null])
            }
        case .serverSideEmitResponse:
            guard let requestID = data["requestId"]?.stringValue else { return }
            requests.answer(id: requestID, from: message.uid, responses: [data["packet"] ?? .null])
        case .broadcastClientCount:
            guard let requestID = data["requestId"]?.stringValue, let count = data["clientCount"]?.intValue else { return }
            requests.ackRequest(requestID)?.clientCount(count)
        case .broadcastAck:
            guard let requestID = data["requestId"]?.stringValue else { return }
            requests.ackRequest(requestID)?.ack(data["packet"].map { [$0] } ?? [])
        }
    }

    private func receiveBroadcast(_ data: JSONObject, from sender: String) {
        let options = SocketIOBroadcastOptions(clusterJSON: data["opts"])
        guard let requestID = data["requestId"]?.stringValue else {
            guard let packet = SocketIOPacket(clusterJSON: data["packet"], namespace: context.namespace, ackID: nil) else { return }
            deliverUnlogged(packet, options: options)
            return
        }
        // Each node gives the packet an ack id of its own namespace (as the reference does).
        guard let packet = SocketIOPacket(clusterJSON: data["packet"], namespace: context.namespace, ackID: context.ackIDs.next()) else { return }
        local.broadcastWithAck(packet, options: options, clientCount: { [weak self] count in
            self?.publish(.broadcastClientCount, ["requestId": .string(requestID), "clientCount": .number(Double(count))])
        }, ack: { [weak self] arguments in
            self?.publish(.broadcastAck, ["requestId": .string(requestID), "packet": arguments.first ?? .null])
        })
    }

    private static func rooms(_ value: JSONValue?) -> Set<String> {
        Set(value?.arrayValue?.compactMap(\.stringValue) ?? [])
    }
}
