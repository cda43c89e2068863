import SocketIO

/// The server the official Socket.IO protocol suite expects (its README's "Test suite").
enum ConformanceHandlers {
    static func install(on io: SocketIOServer) {
        io.onConnection { socket in
            socket.emit("auth", .object(socket.handshake.auth))
            socket.on("message") { event in
                socket.emit("message-back", arguments: event.arguments)
            }
            socket.on("message-with-ack") { event in
                event.ack?.reply(event.arguments)
            }
        }
        io.of("/custom").onConnection { socket in
            socket.emit("auth", .object(socket.handshake.auth))
        }
    }
}
