import Duplex
import NIOCore
import XCTest

/// The README's 15-line server, run for real with the Duplex client.
final class ReadmeExampleTests: XCTestCase {
    func testReadmeServerExample() async throws {
        let server = WebSocketServer { connection in
            connection.onText { text in
                connection.send(text.uppercased() + "!!!")
            }
        }
        let port = try await server.listen(port: 0)

        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/")
        socket.send("hello")
        var iterator = socket.messages.makeAsyncIterator()
        let reply = try await iterator.next()
        XCTAssertEqual(reply, .text("HELLO!!!"))
        XCTAssertEqual(server.connections.count, 1)

        await server.close()
        let closed = try await socket.waitUntilClosed()
        XCTAssertEqual(closed.code, .goingAway, "graceful shutdown sends 1001")
    }
}
