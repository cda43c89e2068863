import NIOCore

/// The Socket.IO side of one Engine.IO session: decodes packets, routes them to the
/// namespace sockets, connects and disconnects namespaces. Confined to the session's loop.
final class SocketIOConnection: @unchecked Sendable {
    let engine: EngineIOSocket
    let server: SocketIOServer
    private var decoder = SocketIOPacketDecoder()
    private var sockets: [String: SocketIOSocket] = [:]
    private var connecting: Set<String> = []
    /// Whether a namespace was ever joined (a CONNECT that was refused does not count).
    private var hasConnected = false
    private var isClosed = false

    init(engine: EngineIOSocket, server: SocketIOServer) {
        self.engine = engine
        self.server = server
    }

    /// Starts reading the session (on its loop, from the engine's connection handler).
    func start() {
        engine.onMessage { [self] message in received(message) }
        engine.observeClose { [self] reason in engineClosed(reason: reason) }
        // As the reference server: a connection that has joined no namespace by then is
        // closed, whatever it sent (a CONNECT to a namespace that does not exist or that a
        // middleware refused does not count).
        engine.schedule(in: server.options.connectTimeout) { [weak self] session in
            guard let self, !hasConnected else { return }
            session.closeSession(reason: .forcedClose)
        }
    }

    private func received(_ message: EngineIOMessage) {
        do {
            let packet: SocketIOPacket?
            switch message {
            case .text(let text): packet = try decoder.decode(text: text)
            case .binary(let data): packet = try decoder.decode(attachment: data)
            }
            if let packet { route(packet) }
        } catch {
            engine.closeSession(reason: .parseError)
        }
    }

    private func route(_ packet: SocketIOPacket) {
        let socket = sockets[packet.namespace]
        switch (packet.type, socket) {
        case (.connect, nil) where !connecting.contains(packet.namespace):
            connect(packet.namespace, auth: packet.connectPayload ?? JSONObject())
        case (.connect, _), (.connectError, _), (_, nil):
            // A second CONNECT, a CONNECT_ERROR from a client, or a packet for a namespace
            // it has not joined: the reference server closes the connection.
            engine.closeSession(reason: .forcedClose)
        case (_, let socket?):
            socket.handle(packet)
        }
    }

    private func connect(_ name: String, auth: JSONObject) {
        guard let namespace = server.namespace(for: name, auth: auth) else {
            write(SocketIOPacket.connectError(namespace: name, message: "Invalid namespace").encode(), volatile: false)
            return
        }
        connecting.insert(name)
        // Recovery: a client that presents a pid and an offset may get its session back;
        // the lookup may ask another server (one Task per such CONNECT, not per message).
        if server.options.connectionStateRecovery != nil,
           case .string(let pid)? = auth["pid"], case .string(let offset)? = auth["offset"] {
            let adapter = namespace.adapter
            Task { [self] in
                let session = await adapter.restoreSession(pid: pid, offset: offset)
                engine.run { _ in self.admit(name, namespace, auth: auth, restoring: session.map { ($0, offset) }) }
            }
        } else {
            admit(name, namespace, auth: auth, restoring: nil)
        }
    }

    /// Runs the middlewares (skipped for a recovered socket when so configured), then
    /// connects the socket.
    private func admit(_ name: String, _ namespace: SocketIONamespace, auth: JSONObject,
                       restoring: (session: SocketIOSession, offset: String)?) {
        let recovery = server.options.connectionStateRecovery
        let socket = SocketIOSocket(id: restoring?.session.sid ?? RandomID.make(), namespace: namespace, client: self,
                                    auth: auth, pid: restoring?.session.pid ?? recovery.map { _ in RandomID.make() },
                                    recovered: restoring != nil)
        let finish: @Sendable (SocketIOMiddlewareError?) -> Void = { [self] error in
            connecting.remove(name)
            // After the socket joined (or not): an empty dynamic namespace may go then.
            defer { server.connectFinished(namespace) }
            guard !isClosed else {
                // The client went again meanwhile: keep its session for the next try.
                if let restoring { namespace.adapter.persistSession(restoring.session) }
                return
            }
            if let error {
                write(SocketIOPacket.connectError(namespace: name, message: error.message, data: error.data).encode(), volatile: false)
                return
            }
            sockets[name] = socket
            hasConnected = true
            // The handlers run first (their joins take effect at once), what they send is
            // held, then the CONNECT answer goes out on its own and the held packets follow.
            // Packets the client sent meanwhile are handled once the handlers have run.
            socket.connected(restoring: restoring)
            namespace.connectionHandlers.forEach { $0(socket) }
            socket.answerConnect()
            socket.ready()
        }
        if restoring != nil, recovery?.skipMiddlewares == true {
            finish(nil)
        } else {
            namespace.runMiddlewares(socket, done: finish)
        }
    }

    func write(_ encoded: SocketIOEncodedPacket, volatile: Bool, compress: Bool = true) {
        if volatile && !engine.isWritable { return }
        if encoded.attachments.isEmpty {
            engine.sendMessage(encoded.text, compress: compress)
        } else {
            engine.sendPackets(encoded.engineIOPackets, compress: compress)
        }
    }

    func remove(_ socket: SocketIOSocket) {
        if sockets[socket.namespace.name] === socket {
            sockets[socket.namespace.name] = nil
        }
    }

    /// `disconnect(close: true)`: every namespace gets DISCONNECT, then the connection closes.
    func disconnectAll() {
        for socket in Array(sockets.values) {
            socket.write(.disconnect(namespace: socket.namespace.name))
            socket.closed(reason: .serverNamespaceDisconnect)
        }
        engine.closeSession(reason: .forcedServerClose)
    }

    /// Disconnects every socket with `reason` (server shutdown), then closes.
    func shutdown(reason: DisconnectReason) {
        for socket in Array(sockets.values) { socket.closed(reason: reason) }
        engine.closeSession(reason: reason)
    }

    private func engineClosed(reason: DisconnectReason) {
        isClosed = true
        decoder.reset()
        for socket in Array(sockets.values) { socket.closed(reason: reason) }
        sockets = [:]
    }
}
