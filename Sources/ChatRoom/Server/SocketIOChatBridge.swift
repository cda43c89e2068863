import SocketIO

/// Lets Socket.IO clients join the same rooms as the page's WebSocket clients.
///
/// Client → server events: `chat message` (text), `nick` (name), `join` (room). The room,
/// name and identity token to start with come from the auth payload (`{room, name, token}`)
/// or the query.
/// Server → client events, each with one argument, the same envelope object the
/// WebSocket clients get: `chat message` (type 2), `user joined` (0), `user left` (1),
/// `welcome` (3), `presence` (4), `rename` (5), `chat error` (6).
enum SocketIOChatBridge {
    static func attach(_ io: SocketIOServer, to hub: ChatHub) {
        io.onConnection { socket in
            let auth = socket.handshake.auth
            let member = hub.join(
                .socketIO(socket),
                room: auth["room"]?.stringValue ?? socket.handshake.query["room"],
                name: auth["name"]?.stringValue ?? socket.handshake.query["name"],
                token: auth["token"]?.stringValue ?? socket.handshake.query["token"]
            )
            socket.on("chat message") { event in
                guard let text = event.arguments.first?.stringValue else {
                    hub.refuse(.badCommand("\"chat message\" takes one string"), to: member)
                    return
                }
                hub.perform(.say(text), from: member)
            }
            socket.on("nick") { event in
                guard let name = event.arguments.first?.stringValue else {
                    hub.refuse(.badCommand("\"nick\" takes one string"), to: member)
                    return
                }
                hub.perform(.nick(name), from: member)
            }
            socket.on("join") { event in
                guard let room = event.arguments.first?.stringValue else {
                    hub.refuse(.badCommand("\"join\" takes one string"), to: member)
                    return
                }
                hub.perform(.join(room), from: member)
            }
            socket.onDisconnect { _ in hub.leave(member) }
        }
    }

    /// Sends an envelope to Socket.IO members: converted and encoded once for all of them.
    static func broadcast(_ envelope: ChatEnvelope, to sockets: [SocketIOSocket]) {
        SocketIOSocket.emit(eventName(envelope.type), arguments: [payload(envelope)], to: sockets)
    }

    /// Sends an envelope to one Socket.IO member.
    static func send(_ envelope: ChatEnvelope, to socket: SocketIOSocket) {
        socket.emit(eventName(envelope.type), payload(envelope))
    }

    /// The envelope as the event's argument: the same object as its Codable form (same
    /// keys, absent ones left out; in declaration order), built directly: a welcome lists
    /// every member of the room, and a round trip through `JSONEncoder` and the parser
    /// per join made joins cost O(members) twice over.
    static func payload(_ envelope: ChatEnvelope) -> JSONValue {
        var object: JSONObject = [
            "type": .number(Double(envelope.type.rawValue)),
            "msg": .string(envelope.msg),
            "time": .string(envelope.time),
            "ts": .number(Double(envelope.ts)),
        ]
        if let room = envelope.room { object["room"] = .string(room) }
        if let user = envelope.user { object["user"] = .string(user) }
        if let uid = envelope.uid { object["uid"] = .number(Double(uid)) }
        if let text = envelope.text { object["text"] = .string(text) }
        if let id = envelope.id { object["id"] = .number(Double(id)) }
        if let history = envelope.history { object["history"] = .bool(history) }
        if let online = envelope.online { object["online"] = .array(online.map { .string($0) }) }
        if let count = envelope.count { object["count"] = .number(Double(count)) }
        if let you = envelope.you { object["you"] = .string(you) }
        if let previous = envelope.previous { object["previous"] = .string(previous) }
        if let code = envelope.code { object["code"] = .string(code) }
        if let token = envelope.token { object["token"] = .string(token) }
        if let limit = envelope.limit { object["limit"] = .number(Double(limit)) }
        return .object(object)
    }

    static func eventName(_ kind: ChatEnvelope.Kind) -> String {
        switch kind {
        case .enter: "user joined"
        case .leave: "user left"
        case .message: "chat message"
        case .welcome: "welcome"
        case .presence: "presence"
        case .rename: "rename"
        case .error: "chat error"
        }
    }
}
