import Duplex
import NIOCore
import Synchronization

/// The adapter of a single node: rooms in memory, broadcasts delivered to local sockets.
///
/// A broadcast encodes the packet once; on each event loop that has recipients, the
/// WebSocket frame is built once and the same buffer written to every WebSocket there,
/// and polling clients get the same pre-encoded packets queued.
public final class InMemoryAdapter: SocketIOAdapter {
    public let context: SocketIOAdapterContext
    private let state = Mutex(Rooms())

    private struct Rooms {
        /// room → socket ids
        var rooms: [String: Set<String>] = [:]
        /// socket id → rooms
        var sids: [String: Set<String>] = [:]
    }

    public init(context: SocketIOAdapterContext) {
        self.context = context
    }

    public func addAll(_ id: String, rooms: Set<String>) {
        state.withLock { state in
            state.sids[id, default: []].formUnion(rooms)
            for room in rooms { state.rooms[room, default: []].insert(id) }
        }
    }

    public func del(_ id: String, room: String) {
        state.withLock { state in
            state.sids[id]?.remove(room)
            state.rooms[room]?.remove(id)
            if state.rooms[room]?.isEmpty == true { state.rooms[room] = nil }
        }
    }

    public func delAll(_ id: String) {
        state.withLock { state in
            guard let rooms = state.sids.removeValue(forKey: id) else { return }
            for room in rooms {
                state.rooms[room]?.remove(id)
                if state.rooms[room]?.isEmpty == true { state.rooms[room] = nil }
            }
        }
    }

    public func socketRooms(_ id: String) -> Set<String>? {
        state.withLock { $0.sids[id] }
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
        state.withLock { state in
            var excluded = Set<String>()
            for room in options.except {
                if let members = state.rooms[room] { excluded.formUnion(members) }
            }
            if options.rooms.isEmpty {
                return state.sids.keys.filter { !excluded.contains($0) }
            }
            var selected = Set<String>()
            for room in options.rooms {
                if let members = state.rooms[room] { selected.formUnion(members) }
            }
            return selected.filter { !excluded.contains($0) }
        }
    }

    /// The local sockets `options` select.
    public func localRecipients(_ options: SocketIOBroadcastOptions) -> [SocketIOSocket] {
        localRecipientIDs(options).compactMap { context.sockets.socket(id: $0) }
    }

    public func broadcast(_ packet: SocketIOPacket, options: SocketIOBroadcastOptions) {
        Self.deliver(packet.encode(), to: localRecipients(options), volatile: options.flags.volatile)
    }

    public func broadcastWithAck(_ packet: SocketIOPacket, options: SocketIOBroadcastOptions,
                                 clientCount: @escaping @Sendable (Int) -> Void,
                                 ack: @escaping @Sendable ([JSONValue]) -> Void) {
        let recipients = localRecipients(options)
        clientCount(recipients.count)
        guard let id = packet.ackID else { return }
        let timeout = options.flags.timeout ?? SocketIOBroadcastOptions.defaultAckTimeout
        Self.deliver(packet.encode(), to: recipients, volatile: options.flags.volatile,
                     ack: SocketIOBroadcastAck(id: id, timeout: timeout, callback: ack))
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
    public static func deliver(_ encoded: SocketIOEncodedPacket, to sockets: [SocketIOSocket], volatile: Bool,
                               ack: SocketIOBroadcastAck? = nil) {
        guard !sockets.isEmpty else { return }
        let frameText = "4" + encoded.text
        // One batch for every polling recipient: their outboxes share it.
        let batch = EngineIOPacketBatch(encoded.engineIOPackets)
        forEachEventLoop(sockets, loop: { $0.client.engine.eventLoop }) { group in
            var direct: [WebSocketConnection] = []
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
                if let webSocket = engine.currentWebSocket {
                    direct.append(webSocket)
                } else {
                    engine.send(batch)
                }
            }
            guard !direct.isEmpty else { return }
            WebSocketServer.broadcast(frameText, to: direct)
            for attachment in encoded.attachments {
                WebSocketServer.broadcast(attachment, to: direct)
            }
        }
    }
}
