// A Vapor 4 app with Duplex mounted: its own route (/hello), a Duplex WebSocket route
// (/echo) and a whole Socket.IO server (/socket.io/), all on the app's port. The README's
// "Add Socket.IO to your Vapor app" is the part between the markers without the lines
// marked test-only (Tests/frameworks checks that they match).
#if Vapor  // built with `--traits Vapor`
import DuplexVapor
import Vapor

// README begin
let io = SocketIOServer()
io.onConnection { socket in
    socket.on("echo") { event in event.ack?.reply(event.arguments) }
    socket.on("join") { event in  // test-only
        guard case .string(let room)? = event.arguments.first else { return }  // test-only
        socket.join(room)  // test-only
        io.to(room).emit("joined", .string(socket.id))  // test-only
    }  // test-only
}
let app = try await Application.make(.detect())
app.get("hello") { _ in "Hello from Vapor\n" }
app.socketIO(io)
var echo = WebSocketServer.Configuration()
echo.webSocket.maxMessageSize = 64 * 1024
echo.webSocket.compression = .shared  // permessage-deflate
echo.webSocket.maxBufferedAmount = 1024 * 1024  // test-only
app.duplexWebSocket("echo", configuration: echo) { connection in
    connection.onText { connection.send($0) }
    connection.onBinary { connection.send($0) }  // test-only
}
try await app.execute()
try await app.asyncShutdown()
// README end
#endif
