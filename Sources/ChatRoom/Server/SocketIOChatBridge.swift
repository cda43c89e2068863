import SocketIO

/// Lets Socket.IO clients join the same rooms as the page's WebSocket clients.
///
/// Client → server events: `chat message` (text), `nick` (name), `join` (room). The room
/// and name to start with come from the auth payload (`{room, name}`) or the query.
/// Server → client events, each with one argument, the same envelope object the
/// WebSocket clients get: `chat message` (type 2), `user joined` (0), `user left` (1),
/// `welcome` (3), `presence` (4), `rename` (5), `chat error` (6).
enum SocketIOChatBridge {
    static func attach(_ io: SocketIOServer, to hub: ChatHub) {
        io.onConnection { socket in
            let auth = socket.handshake.auth
            let member = hub.join(
                .custom { envelope in
                    guard let payload = try? JSONValue(encoding: envelope) else { return }
                    socket.emit(eventName(envelope.type), payload)
                },
                room: auth["room"]?.stringValue ?? socket.handshake.query["room"],
                name: auth["name"]?.stringValue ?? socket.handshake.query["name"]
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
