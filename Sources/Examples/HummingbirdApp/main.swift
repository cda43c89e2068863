// A Hummingbird 2 app with Duplex mounted: its own route (/hello), a Duplex WebSocket route
// (/echo), a whole Socket.IO server (/socket.io/) and Duplex's chat (its page at / and the
// page's WebSocket), all on the app's port. The README's
// "Add Socket.IO to your Hummingbird app" is the part between the markers without the
// lines marked test-only (Tests/frameworks checks that they match).
#if Hummingbird  // built with `--traits Hummingbird`
import ChatRoom  // test-only
import DuplexHummingbird
import Foundation
import Hummingbird

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
let duplex = DuplexEndpoints()
duplex.socketIO(io)
var echo = WebSocketServer.Configuration()
echo.webSocket.maxMessageSize = 64 * 1024
echo.webSocket.compression = .shared  // permessage-deflate
echo.webSocket.maxBufferedAmount = 1024 * 1024  // test-only
duplex.webSocket("/echo", configuration: echo) { connection in
    connection.onText { connection.send($0) }
    connection.onBinary { connection.send($0) }  // test-only
}
var chatConfiguration = ChatServer.Configuration()  // test-only
chatConfiguration.storage = .memory  // test-only
let chat = try await ChatServer(configuration: chatConfiguration)  // test-only: the chat page at /
for path in ["/", "/chat.js", "/chat.css"] { duplex.mount(chat.webSocketServer, at: path) }  // test-only
let router = Router()
router.get("/hello") { _, _ in "Hello from Hummingbird\n" }
router.addDuplex(duplex)
let port = Int(ProcessInfo.processInfo.environment["PORT"] ?? "") ?? 8080
let app = Application(router: router, server: .http1(duplex: duplex), configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
// README end
#endif
