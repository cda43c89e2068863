import Duplex
import NIOCore
import Synchronization

/// The adapter of a single node: rooms in memory, broadcasts delivered to local sockets.
///
/// A broadcast encodes the packet once; on each event loop that has recipients, the
/// WebSocket frame is built once and the same buffer written to every WebSocket there,
/// and polling clients get the same pre-encoded packets queued.
public final class InMemoryAdapter: SocketIOAdapter {
    /// The namespace this adapter serves and its local sockets.
    public let context: SocketIOAdapterContext
    /// Socket ids by room and rooms by socket id.
    private let state = Mutex(RoomIndex<String, String>())
    /// With connection state recovery: the packet log and the sessions. Taken before
    /// `state` when both are needed.
    private let recoveryLog: Mutex<RecoveryLog?>
    private let recovers: Bool

    /// The adapter of one namespace; ``SocketIOServerOptions/adapter`` makes one per namespace.
    public init(context: SocketIOAdapterContext) {
        self.context = context
        self.recoveryLog = Mutex(context.recovery.map { RecoveryLog(limits: $0) })
        self.recovers = context.recovery != nil
    }

    public func addAll(_ id: String, rooms: Set<String>) {
        let created = state.withLock { $0.join(id, rooms) }
        if created > 0 { context.metrics.rooms.increment(by: Double(created)) }
    }

    public func del(_ id: String, room: String) {
        if state.withLock({ $0.leave(id, room) }) { context.metrics.rooms.decrement() }
    }

    public func delAll(_ id: String) {
        let emptied = state.withLock { $0.leaveAll(id) }
        if emptied > 0 { context.metrics.rooms.decrement(by: Double(emptied)) }
    }

    public func socketRooms(_ id: String) -> Set<String>? {
        state.withLock { $0.rooms(of: id) }
    }

    /// The rooms that exist, with their members (a snapshot).
    public var rooms: [String: Set<String>] {
        state.withLock { $0.rooms }
    }

    public func sockets(in rooms: Set<String>) async -> Set<String> {
        Set(localRecipientIDs(SocketIOBroadcastOptions(rooms: rooms)))
    }

    /// The ids of the local sockets `options` select.
    public func localRecipientIDs(_ options: SocketIOBroadcastOptions) -> [String] {
        state.withLock { $0.select(inAnyOf: options.rooms, except: options.except) }
    }

    /// The local sockets `options` select.
    public func localRecipients(_ options: SocketIOBroadcastOptions) -> [SocketIOSocket] {
        localRecipientIDs(options).compactMap { context.sockets.socket(id: $0) }
    }

    public func broadcast(_ packet: SocketIOPacket, options: SocketIOBroadcastOptions) {
        guard recovers, packet.isLoggable(options) else {
            Self.deliver(packet.encode(), to: localRecipients(options), volatile: options.flags.volatile, compress: options.flags.compress)
            return
        }
        // Offset, log and hand-over to the loops under one lock: every loop gets the
        // packets in offset order, so the last offset a client saw means "all before too".
        recoveryLog.withLock { log in
            guard log != nil else { return }
            let offset = log!.nextOffset()
            let encoded = packet.appending(offset: String(offset)).encode()
            log!.append(offset: offset, options: options, packet: encoded, now: .now())
            Self.deliver(encoded, to: localRecipients(options), volatile: false, inline: false, compress: options.flags.compress)
        }
    }

    /// Delivers without logging or an offset (a multi-node adapter's packets that are not
    /// in its log: volatile, with acks, or sent while its shared log is out of reach).
    public func broadcastUnlogged(_ packet: SocketIOPacket, options: SocketIOBroadcastOptions) {
        Self.deliver(packet.encode(), to: localRecipients(options), volatile: options.flags.volatile, compress: options.flags.compress)
    }

    /// Logs and delivers a packet whose offset a cluster assigned (its global order: the
    /// caller hands packets over in increasing offsets). Without recovery: delivered
    /// without one.
    public func broadcast(_ packet: SocketIOPacket, options: SocketIOBroadcastOptions, offset: UInt64) {
        guard recovers else { return broadcastUnlogged(packet, options: options) }
        recoveryLog.withLock { log in
            guard log != nil else { return }
            let encoded = packet.appending(offset: String(offset)).encode()
            log!.append(offset: offset, options: options, packet: encoded, now: .now())
            Self.deliver(encoded, to: localRecipients(options), volatile: false, inline: false, compress: options.flags.compress)
        }
    }

    /// Empties the packet log (sessions stay): a multi-node adapter that may have missed
    /// packets (its link to the others was down) must not replay across the hole.
    public func forgetLoggedPackets() {
        recoveryLog.withLock { $0?.removeAllPackets() }
    }

    /// Whether the packet with this offset (as the client sends it) is in this node's log.
    public func hasLogged(offset: String) -> Bool {
        guard let offset = UInt64(offset) else { return false }
        return recoveryLog.withLock { $0?.contains(offset: offset) ?? false }
    }

    // MARK: - Connection state recovery

    public func persistSession(_ session: SocketIOSession) {
        recoveryLog.withLock { _ = $0?.persist(session, now: .now()) }
    }

    public func restoreSession(pid: String, offset: String) async -> SocketIOSession? {
        recoveryLog.withLock { $0?.restore(pid: pid, offset: offset, now: .now()) }
    }

    public func rejoin(_ session: SocketIOSession, after offset: String) -> [SocketIOEncodedPacket] {
        rejoin(session, after: offset, readElsewhere: [], through: 0)
    }

    /// Like ``rejoin(_:after:)`` for a multi-node adapter that read the packets up to
    /// offset `through` from a shared log (`readElsewhere`, in order, with their offsets
    /// already in them): they come first, then this node's packets after `through`.
    public func rejoin(_ session: SocketIOSession, after offset: String, readElsewhere: [SocketIOEncodedPacket],
                       through: UInt64) -> [SocketIOEncodedPacket] {
        recoveryLog.withLock { log in
            addAll(session.sid, rooms: session.rooms.union([session.sid]))
            guard let log, let offset = UInt64(offset) else { return readElsewhere }
            return readElsewhere + log.missed(after: max(offset, through), by: session)
        }
    }

    /// How many packets and sessions recovery keeps now, and their bytes (for tests and metrics).
    public var recoveryUsage: (packets: Int, packetBytes: Int, sessions: Int, sessionBytes: Int) {
        recoveryLog.withLock { log in
            log.map { ($0.entries.count, $0.loggedBytes, $0.sessionCount, $0.sessionBytes) } ?? (0, 0, 0, 0)
        }
    }

    public func broadcastWithAck(_ packet: SocketIOPacket, options: SocketIOBroadcastOptions,
                                 clientCount: @escaping @Sendable (Int) -> Void,
                                 ack: @escaping @Sendable ([JSONValue]) -> Void) {
        let recipients = localRecipients(options)
        clientCount(recipients.count)
        guard let id = packet.ackID else { return }
        let timeout = options.flags.timeout ?? SocketIOBroadcastOptions.defaultAckTimeout
        Self.deliver(packet.encode(), to: recipients, volatile: options.flags.volatile,
                     ack: SocketIOBroadcastAck(id: id, timeout: timeout, callback: ack), compress: options.flags.compress)
    }

    public func serverCount() async -> Int { 1 }

    public func fetchSockets(_ options: SocketIOBroadcastOptions) async throws -> [SocketIORemoteSocket] {
        localRecipients(options).map { $0.remote }
    }

    public func addSockets(_ options: SocketIOBroadcastOptions, rooms: Set<String>) {
        for socket in localRecipients(options) { socket.join(rooms) }
    }

    public func delSockets(_ options: SocketIOBroadcastOptions, rooms: Set<String>) {
        for socket in localRecipients(options) {
            for room in rooms { socket.leave(room) }
        }
    }

    public func disconnectSockets(_ options: SocketIOBroadcastOptions, close: Bool) {
        for socket in localRecipients(options) { socket.disconnect(close: close) }
    }

    public func close() async {}

    // MARK: - Delivery

    /// Writes one encoded packet to local sockets: grouped by event loop, one task per
    /// loop; there the WebSocket frames are built once for all WebSockets of the loop.
    /// With `ack`, each recipient first registers the shared ack id.
    /// `inline: false` queues the work on the current loop too instead of doing it now (for
    /// a caller that holds a lock).
    public static func deliver(_ encoded: SocketIOEncodedPacket, to sockets: [SocketIOSocket], volatile: Bool,
                               ack: SocketIOBroadcastAck? = nil, inline: Bool = true, compress: Bool = true) {
        guard !sockets.isEmpty else { return }
        let frameText = "4" + encoded.text
        // One batch for every polling recipient: their outboxes share it.
        let batch = EngineIOPacketBatch(encoded.engineIOPackets, compress: compress)
        let metrics = sockets[0].namespace.metrics  // one namespace per delivery
        forEachEventLoop(sockets, loop: { $0.client.engine.eventLoop }, inline: inline) { group in
            var direct: [WebSocketConnection] = []
            var delivered = 0
            defer { if delivered > 0 { metrics.eventsSent.increment(by: Int64(delivered)) } }
            for socket in group {
                let engine = socket.client.engine
                guard engine.isOnLoop, !socket.isHoldingOutbound else {
                    // The session moved (an upgrade) since the grouping, or the socket
                    // waits for its CONNECT answer to go out: the slow way, in order.
                    socket.client.engine.run { _ in
                        socket.deliverOnLoop(batch, volatile: volatile, ack: ack)
                    }
                    continue
                }
                guard socket.prepareDelivery(volatile: volatile, ack: ack) else { continue }
                delivered += 1
                if let webSocket = engine.currentWebSocket {
                    direct.append(webSocket)
                } else {
                    engine.send(batch)
                }
            }
            guard !direct.isEmpty else { return }
            WebSocketServer.broadcast(frameText, to: direct, compress: compress)
            for attachment in encoded.attachments {
                WebSocketServer.broadcast(attachment, to: direct, compress: compress)
            }
        }
    }
}
