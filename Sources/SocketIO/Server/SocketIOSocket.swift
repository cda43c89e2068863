import Duplex
import NIOCore
import NIOHTTP1
import Synchronization

/// A client connected to one namespace (the reference server's `Socket`).
///
/// It lives on its connection's event loop: handlers run there, one event at a time. Its
/// methods may be called from anywhere.
public final class SocketIOSocket: @unchecked Sendable {
    /// The socket id, random and unique per namespace connection (not the Engine.IO session
    /// id); every socket is in the room of this name.
    public let id: String
    /// The namespace the socket joined.
    public let namespace: SocketIONamespace
    /// What the client sent when it connected: headers, query, address and auth payload.
    public let handshake: SocketIOHandshake
    /// With connection state recovery: the private id the client presents to recover this
    /// socket (sent in the CONNECT answer only); nil when recovery is off.
    public let pid: String?
    /// Whether this socket is a recovered one: same id, rooms and data as before the
    /// client's connection broke, and the events it missed were sent first.
    public let recovered: Bool
    let client: SocketIOConnection
    private let dataBox = Mutex<JSONValue>(.null)
    private let connectedFlag = Atomic<Bool>(false)

    // MARK: Event-loop confined
    private var handlers: [String: [(SocketIOEvent) -> Void]] = [:]
    private var anyHandlers: [(SocketIOEvent) -> Void] = []
    private var disconnectingHandler: ((DisconnectReason) -> Void)?
    private var disconnectHandler: ((DisconnectReason) -> Void)?
    /// False until the connection handlers have run; packets wait in `early` until then.
    private var isReady = false
    /// Why it disconnected, once it has.
    private(set) var disconnectReason: DisconnectReason?
    private var early: [SocketIOPacket] = []
    /// Events whose arguments did not decode: a line a second at most.
    static let argumentLog = EngineIOLogThrottle()
    /// Most packets a client may send while its connection is being set up (async
    /// middlewares): more closes the connection.
    static let earlyLimit = 256
    /// What the connection handlers (and broadcasts to the rooms they joined) send before
    /// the CONNECT answer has gone out: it follows the answer, in order. nil when not holding.
    private var heldOutbound: [HeldWrite]?
    /// Whether what is sent now waits for the CONNECT answer (on the loop).
    var isHoldingOutbound: Bool { heldOutbound != nil }

    private enum HeldWrite {
        case packet(SocketIOEncodedPacket, volatile: Bool, compress: Bool)
        case batch(EngineIOPacketBatch)
    }
    /// Acknowledgements awaited, by id. Each expires with its timeout (a timer that checks
    /// whether it is still here), so a client that never answers holds none for long.
    private var acks: [Int: @Sendable (Result<[JSONValue], SocketIOAckError>) -> Void] = [:]

    init(id: String, namespace: SocketIONamespace, client: SocketIOConnection, auth: JSONObject,
         pid: String? = nil, recovered: Bool = false) {
        self.id = id
        self.pid = pid
        self.recovered = recovered
        self.namespace = namespace
        self.client = client
        let request = client.engine.request
        self.handshake = SocketIOHandshake(headers: request.headers, query: request.query,
                                           remoteAddress: request.remoteAddress, auth: auth, url: request.uri)
    }

    /// The Engine.IO session underneath (the reference's `socket.conn`): closing it drops
    /// the transport as a network failure would (the client reconnects, and recovers with
    /// connection state recovery on).
    public var conn: EngineIOSocket { client.engine }

    /// The event loop the socket's events run on now.
    public var eventLoop: EventLoop { client.engine.eventLoop }

    /// Whether the socket is still connected to its namespace; false once it disconnected
    /// (emits are then ignored).
    public var isConnected: Bool { connectedFlag.load(ordering: .relaxed) }

    /// Free storage for the application (shared with `fetchSockets`).
    public var data: JSONValue {
        get { dataBox.withLock { $0 } }
        set { dataBox.withLock { $0 = newValue } }
    }

    /// The rooms the socket is in (its own id among them).
    public var rooms: Set<String> { namespace.adapter.socketRooms(id) ?? [] }

    /// The transport of the underlying connection now (`polling` or `websocket`).
    public var transport: EngineIOTransport {
        client.engine.isOnLoop ? client.engine.currentTransport : .polling
    }

    /// A snapshot as `fetchSockets` returns it (what a cluster adapter sends other nodes).
    public var remote: SocketIORemoteSocket {
        SocketIORemoteSocket(id: id, namespace: namespace, handshake: handshake, rooms: rooms, data: data)
    }

    private func run(_ body: @escaping @Sendable (SocketIOSocket) -> Void) {
        client.engine.run { _ in body(self) }
    }

    /// Sends an acknowledgement (from any thread; at once when on the socket's loop).
    func answer(ackID: Int, with arguments: [JSONValue]) {
        let reply = SocketIOPacket.ack(arguments, namespace: namespace.name, ackID: ackID)
        if client.engine.isOnLoop {
            write(reply)
        } else {
            run { $0.write(reply) }
        }
    }

    // MARK: - Handlers

    /// Handles the event `name` (on the socket's event loop).
    public func on(_ name: String, _ handler: @escaping @Sendable (SocketIOEvent) -> Void) {
        run { $0.handlers[name, default: []].append(handler) }
    }

    /// Handles the event `name`, its first argument decoded as `T`. An argument that does
    /// not decode is answered, when an ack was asked for, with `{"error": …}`.
    public func on<T: Decodable & Sendable>(_ name: String, as type: T.Type, _ handler: @escaping @Sendable (T, SocketIOEvent) -> Void) {
        on(name) { event in
            do {
                handler(try event.decode(T.self), event)
            } catch {
                // Not dropped silently: the client gets the reason when it asked for an
                // ack, the log gets it (at most a line a second) either way.
                let failure = SocketIOArgumentError(event: name, decoding: error)
                event.ack?.reply([["error": .string(failure.description)]])
                if let heldBack = Self.argumentLog.admit() {
                    self.client.server.options.engine.logger.warning("event ignored: \(failure)", metadata: [
                        "socket": "\(self.id)", "namespace": "\(self.namespace.name)", "heldBack": "\(heldBack)",
                    ])
                }
            }
        }
    }

    /// Handles the event `name` with an async function whose result is the acknowledgement
    /// (sent when the client asked for one). A thrown error is answered as
    /// `{"error": "<description>"}`. Runs in a Task: for work that awaits.
    public func onRequest(_ name: String, _ handler: @escaping @Sendable (SocketIOEvent) async throws -> [JSONValue]) {
        on(name) { event in
            Task {
                do {
                    let reply = try await handler(event)
                    event.ack?.reply(reply)
                } catch {
                    let reason = error is DecodingError ? "\(SocketIOArgumentError(event: name, decoding: error))" : "\(error)"
                    event.ack?.reply([["error": .string(reason)]])
                }
            }
        }
    }

    /// Sees every event before its handlers.
    public func onAny(_ handler: @escaping @Sendable (SocketIOEvent) -> Void) {
        run { $0.anyHandlers.append(handler) }
    }

    /// The socket is about to leave its rooms (they are still readable). Setting it again
    /// replaces it (as every `on…` of a kind; named events, `on(_:)`, add listeners).
    public func onDisconnecting(_ handler: @escaping @Sendable (DisconnectReason) -> Void) {
        run { $0.disconnectingHandler = handler }
    }

    /// The socket disconnected, with the reason (`client namespace disconnect`, `server
    /// namespace disconnect`, `transport close`, `transport error`, `ping timeout`,
    /// `parse error`, `forced close`, `server shutting down`).
    public func onDisconnect(_ handler: @escaping @Sendable (DisconnectReason) -> Void) {
        run { socket in
            if socket.isConnected {
                socket.disconnectHandler = handler
            } else if let reason = socket.disconnectReason {
                handler(reason)
            }
        }
    }

    // MARK: - Emitting

    /// Sends the event with these arguments to this client. Binary arguments (`.binary`)
    /// travel as attachments. Ignored once disconnected, unless connection state recovery
    /// is on: then it is logged and replayed if the client recovers the socket.
    public func emit(_ name: String, _ arguments: JSONValue...) {
        emit(name, arguments: arguments)
    }

    /// Sends the event with these arguments to this client. `compress: false` sends it
    /// uncompressed where permessage-deflate is on (the reference's
    /// `socket.compress(false).emit(…)`).
    public func emit(_ name: String, arguments: [JSONValue], compress: Bool = true) {
        let packet = SocketIOPacket.event(name, arguments, namespace: namespace.name)
        if pid != nil {
            // Recovery: through the adapter to the socket's own room, so that it is logged
            // and reaches the client after a reconnection if it is missed now (also once
            // disconnected, as in the reference).
            namespace.adapter.broadcast(packet, options: SocketIOBroadcastOptions(rooms: [id], flags: .init(compress: compress)))
        } else {
            run { $0.write(packet, compress: compress) }
        }
    }

    /// Emits one `Encodable` value as the argument.
    public func emit(_ name: String, encoding value: some Encodable) throws {
        emit(name, arguments: [try JSONValue(encoding: value)])
    }

    /// Emits and waits for the client's acknowledgement; `ack` runs on the socket's loop.
    public func emit(_ name: String, arguments: [JSONValue], timeout: TimeAmount?,
                     ack: @escaping @Sendable (Result<[JSONValue], SocketIOAckError>) -> Void) {
        let id = namespace.nextAckID()
        let packet = SocketIOPacket.event(name, arguments, namespace: namespace.name, ackID: id)
        run { socket in
            guard socket.isConnected else {
                ack(.failure(.disconnected))
                return
            }
            if let timeout {
                socket.client.engine.schedule(in: timeout) { [weak socket] _ in
                    if let socket, let callback = socket.acks.removeValue(forKey: id) {
                        socket.namespace.metrics.acksTimedOut.increment()
                        callback(.failure(.timeout(responses: [])))
                    }
                }
            }
            socket.acks[id] = ack
            socket.write(packet)
        }
    }

    /// Emits and returns the client's acknowledgement.
    public func emitWithAck(_ name: String, _ arguments: JSONValue..., timeout: TimeAmount? = nil) async throws -> [JSONValue] {
        try await emitWithAck(name, arguments: arguments, timeout: timeout)
    }

    /// Emits and returns the client's acknowledgement (its callback's arguments). Throws
    /// ``SocketIOAckError/timeout(responses:)`` after `timeout` (nil: waits until the
    /// disconnect) and ``SocketIOAckError/disconnected`` when the socket goes first.
    public func emitWithAck(_ name: String, arguments: [JSONValue], timeout: TimeAmount? = nil) async throws -> [JSONValue] {
        try await withCheckedThrowingContinuation { continuation in
            emit(name, arguments: arguments, timeout: timeout) { result in
                continuation.resume(with: result.mapError { $0 as Error })
            }
        }
    }

    /// Emits and decodes the acknowledgement's first argument as `T`.
    public func emitWithAck<T: Decodable>(_ name: String, arguments: [JSONValue], timeout: TimeAmount? = nil, as type: T.Type) async throws -> T {
        let reply = try await emitWithAck(name, arguments: arguments, timeout: timeout)
        guard let first = reply.first else {
            throw DecodingError.valueNotFound(T.self, .init(codingPath: [], debugDescription: "empty acknowledgement"))
        }
        return try first.decode(as: T.self)
    }

    /// How many acknowledgements this socket still waits for (its own emits and broadcasts
    /// with acks); each goes when answered, at its timeout, or at the disconnect.
    public func pendingAcknowledgements() -> EventLoopFuture<Int> {
        let promise = eventLoop.makePromise(of: Int.self)
        run { promise.succeed($0.acks.count) }
        return promise.futureResult
    }

    // MARK: - Rooms and broadcasts

    /// Joins these rooms (joining a room twice is harmless). Rooms are per namespace.
    public func join(_ rooms: String...) {
        join(Set(rooms))
    }

    /// Joins these rooms.
    public func join(_ rooms: Set<String>) {
        namespace.adapter.addAll(id, rooms: rooms)
    }

    /// Leaves a room; leaving a room the socket is not in does nothing. At the disconnect the
    /// socket leaves all its rooms by itself.
    public func leave(_ room: String) {
        namespace.adapter.del(id, room: room)
    }

    /// Everyone in these rooms but this socket.
    public func to(_ rooms: String...) -> SocketIOBroadcastOperator {
        SocketIOBroadcastOperator(namespace: namespace, rooms: Set(rooms), except: [id])
    }

    /// The same as ``to(_:)``: everyone in these rooms but this socket.
    public func `in`(_ rooms: String...) -> SocketIOBroadcastOperator {
        SocketIOBroadcastOperator(namespace: namespace, rooms: Set(rooms), except: [id])
    }

    /// Everyone in the namespace but this socket and these rooms.
    public func except(_ rooms: String...) -> SocketIOBroadcastOperator {
        SocketIOBroadcastOperator(namespace: namespace, except: Set(rooms).union([id]))
    }

    /// Everyone in the namespace but this socket.
    public var broadcast: SocketIOBroadcastOperator {
        SocketIOBroadcastOperator(namespace: namespace, except: [id])
    }

    /// Disconnects from this namespace (the client gets DISCONNECT; reason `server
    /// namespace disconnect`); with `close`, from every namespace and the connection closes.
    public func disconnect(close: Bool = false) {
        run { socket in
            guard socket.isConnected else { return }
            if close {
                socket.client.disconnectAll()
            } else {
                socket.write(.disconnect(namespace: socket.namespace.name))
                socket.closed(reason: .serverNamespaceDisconnect)
            }
        }
    }

    // MARK: - Internals (on the loop)

    func write(_ packet: SocketIOPacket, volatile: Bool = false, compress: Bool = true) {
        guard isConnected || packet.type == .connectError else { return }
        if packet.type == .event || packet.type == .binaryEvent { namespace.metrics.eventsSent.increment() }
        if heldOutbound != nil {
            heldOutbound!.append(.packet(packet.encode(), volatile: volatile, compress: compress))
            return
        }
        client.write(packet.encode(), volatile: volatile, compress: compress)
    }

    /// The socket joins its namespace and its own room; what it sends is held until
    /// ``answerConnect()``, so the connection handlers run before the client can see the
    /// CONNECT answer (in the reference server "connected" means they have run: a message
    /// to a room a handler joins reaches the socket from the first moment).
    ///
    /// A recovered socket (`restoring`) rejoins its session's rooms and gets the packets it
    /// missed at once, ahead of the CONNECT answer (as the reference server sends them).
    func connected(restoring: (session: SocketIOSession, offset: String)? = nil) {
        connectedFlag.store(true, ordering: .relaxed)
        namespace.metrics.connects.increment()
        namespace.metrics.connected.increment()
        namespace.localSockets.add(self)
        heldOutbound = []
        if let restoring {
            data = restoring.session.data
            let missed = namespace.adapter.rejoin(restoring.session, after: restoring.offset)
            namespace.metrics.eventsSent.increment(by: Int64(missed.count))
            for packet in missed { client.write(packet, volatile: false) }
        } else {
            namespace.adapter.addAll(id, rooms: [id])
        }
    }

    /// Writes the CONNECT answer (also when a handler disconnected the socket: the client
    /// then sees CONNECT, then DISCONNECT); what was held follows once it has gone out, on
    /// its own (clients read the answer as a message of its own).
    func answerConnect() {
        var answer: JSONObject = ["sid": .string(id)]
        if let pid { answer["pid"] = .string(pid) }
        client.write(SocketIOPacket.connect(namespace: namespace.name, payload: answer).encode(), volatile: false)
        client.engine.afterWrite { [self] _ in
            let held = heldOutbound ?? []
            heldOutbound = nil
            for write in held {
                switch write {
                case .packet(let encoded, let volatile, let compress): client.write(encoded, volatile: volatile, compress: compress)
                case .batch(let batch): client.engine.send(batch)
                }
            }
        }
    }

    /// Called by a broadcast on this loop: registers the shared ack id; false when the
    /// packet must not go to this socket.
    func prepareDelivery(volatile: Bool, ack: SocketIOBroadcastAck?) -> Bool {
        guard isConnected else { return false }
        if let ack {
            let id = ack.id
            acks[id] = { result in if case .success(let args) = result { ack.callback(args) } }
            // The broadcast gives up at its timeout; the entry goes then too (the collector
            // has its own timer: nothing to tell it).
            client.engine.schedule(in: ack.timeout) { [weak self] _ in _ = self?.acks.removeValue(forKey: id) }
        }
        return !volatile || client.engine.isWritable
    }

    func deliverOnLoop(_ batch: EngineIOPacketBatch, volatile: Bool, ack: SocketIOBroadcastAck?) {
        guard prepareDelivery(volatile: volatile, ack: ack) else { return }
        namespace.metrics.eventsSent.increment()
        if heldOutbound != nil {
            heldOutbound!.append(.batch(batch))
            return
        }
        client.engine.send(batch)
    }

    /// The connection handlers have run: deliver what arrived before.
    func ready() {
        isReady = true
        let pending = early
        early = []
        for packet in pending where isConnected { handle(packet) }
    }

    func handle(_ packet: SocketIOPacket) {
        guard isReady else {
            guard early.count < Self.earlyLimit else {
                client.engine.close()
                return
            }
            early.append(packet)
            return
        }
        switch packet.type {
        case .event, .binaryEvent:
            guard let name = packet.eventName else { return }
            namespace.metrics.eventsReceived.increment()
            let ack = packet.ackID.map { SocketIOAck(socket: self, ackID: $0) }
            let event = SocketIOEvent(name: name, arguments: packet.arguments ?? [], ack: ack, socket: self)
            for handler in anyHandlers { handler(event) }
            for handler in handlers[name] ?? [] { handler(event) }
        case .ack, .binaryAck:
            guard let ackID = packet.ackID, let callback = acks.removeValue(forKey: ackID) else { return }
            callback(.success(packet.arguments ?? []))
        case .disconnect:
            closed(reason: .clientNamespaceDisconnect)
        case .connect, .connectError:
            break
        }
    }

    /// The socket leaves its namespace (once).
    func closed(reason: DisconnectReason) {
        guard isConnected else { return }
        disconnectReason = reason
        disconnectingHandler?(reason)
        if let pid, SocketIOConnectionStateRecovery.recoverableReasons.contains(reason) {
            namespace.adapter.persistSession(SocketIOSession(sid: id, pid: pid, rooms: rooms, data: data))
        }
        connectedFlag.store(false, ordering: .relaxed)
        namespace.metrics.disconnects.increment()
        namespace.metrics.connected.decrement()
        namespace.adapter.delAll(id)
        namespace.localSockets.remove(id: id)
        client.remove(self)
        client.server.socketLeft(namespace)
        let pending = acks
        acks = [:]
        for (_, callback) in pending {
            callback(.failure(.disconnected))
        }
        let handler = disconnectHandler
        disconnectHandler = nil
        self.handlers = [:]
        anyHandlers = []
        disconnectingHandler = nil
        handler?(reason)
    }
}
