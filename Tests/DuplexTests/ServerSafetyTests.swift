import NIOCore
import NIOHTTP1
import NIOPosix
import XCTest

@testable import Duplex

/// The README's promises about bad input and misbehaving peers or handlers.
final class ServerSafetyTests: XCTestCase {
    func testMalformedHTTPGets400AndTheConnectionCloses() async throws {
        let (server, port) = try await startEchoServer()
        let client = try await RawClient(port: port)
        try await client.send("GARBAGE / \u{01}HTTP/9\r\n\r\n")
        await eventually { client.isClosed }
        XCTAssertTrue(client.text.hasPrefix("HTTP/1.1 400"), client.text)
        XCTAssertTrue(client.text.contains("malformed HTTP request"), client.text)
        await server.close()
    }

    func testOversizedRequestBodyGets413() async throws {
        let (server, port) = try await startEchoServer { configuration in
            configuration.maxRequestBodySize = 1024
            configuration.httpHandler = { request in request.eventLoop.makeSucceededFuture(HTTPResponse(body: "ok\n")) }
        }
        let client = try await RawClient(port: port)
        let body = String(repeating: "x", count: 4096)
        try await client.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        await eventually { client.text.contains("\r\n\r\n") }
        XCTAssertTrue(client.text.hasPrefix("HTTP/1.1 413"), client.text)
        await server.close()
    }

    func testAThrowingHandlerClosesOnlyItsConnectionWith1011() async throws {
        struct Boom: Error {}
        let errors = Recorder<String>()
        let (server, port) = try await startEchoServer(onConnection: { connection in
            connection.onError { errors.append("\($0)") }
            connection.onText { text in
                if text == "boom" { throw Boom() }
                connection.send(text)
            }
        })
        let victim = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        let bystander = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        victim.send("boom")
        let closed = try await victim.waitUntilClosed()
        XCTAssertEqual(closed.code, .internalServerError)
        XCTAssertTrue(errors.all.contains { $0.contains("Boom") }, "\(errors.all)")

        bystander.send("still here")
        var iterator = bystander.messages.makeAsyncIterator()
        let reply = try await iterator.next()
        XCTAssertEqual(reply, .text("still here"))
        XCTAssertEqual(bystander.readyState, .open)
        bystander.close()
        await server.close()
    }

    func testASlowReaderIsDroppedAtTheOutboundLimit() async throws {
        let events = Recorder<CloseEvent>()
        let errors = Recorder<String>()
        let (server, port) = try await startEchoServer({ configuration in
            configuration.webSocket.maxBufferedAmount = 64 * 1024
        }, onConnection: { connection in
            connection.onClose { events.append($0) }
            connection.onError { errors.append("\($0)") }
            connection.onText { _ in
                // Far more than the socket buffers can hold for a peer that never reads.
                let chunk = ByteBuffer(repeating: 0x61, count: 1024 * 1024)
                for _ in 0..<64 where connection.readyState == .open { connection.send(chunk) }
            }
        })
        let client = try await RawClient(port: port)
        try await client.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        await eventually { client.text.contains("\r\n\r\n") }
        XCTAssertTrue(client.text.hasPrefix("HTTP/1.1 101"), client.text)
        // Stop reading, then ask for the flood.
        try await client.channel.setOption(ChannelOptions.autoRead, value: false)
        try await client.send(FrameEncoder.textFrame("flood", mask: .random(), allocator: ByteBufferAllocator()))
        await eventually(timeout: 10) { !events.all.isEmpty }
        XCTAssertEqual(events.all.first?.code, .policyViolation)
        XCTAssertTrue(errors.all.contains { $0.contains("not reading") }, "\(errors.all)")
        XCTAssertTrue(server.connections.isEmpty)
        await server.close()
    }

    func testTheRegistryForgetsEveryClosedConnection() async throws {
        let (server, port) = try await startEchoServer { configuration in
            configuration.httpHandler = { request in request.eventLoop.makeSucceededFuture(HTTPResponse(body: "page\n")) }
        }
        let page = try await RawClient(port: port)
        try await page.send("GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await eventually { page.text.contains("page") }
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        await eventually { server.connections.count == 1 }
        XCTAssertEqual(server.trackedConnectionCount, 2, "a keep-alive HTTP connection and a WebSocket")

        try await page.channel.close()
        socket.close()
        _ = try await socket.waitUntilClosed()
        await eventually { server.trackedConnectionCount == 0 }
        XCTAssertTrue(server.connections.isEmpty)
        await server.close()
    }

    func testShutdownCompletesTheClosingHandshake() async throws {
        let serverSide = Recorder<CloseEvent>()
        let (server, port) = try await startEchoServer(onConnection: { connection in
            connection.onClose { serverSide.append($0) }
        })
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        await eventually { server.connections.count == 1 }
        let closing = Task { try await socket.waitUntilClosed() }
        await server.close()
        let event = try await closing.value
        XCTAssertEqual(event.code, .goingAway)
        XCTAssertTrue(event.wasClean, "\(event)")
        // The server waited for the client's close frame before dropping the TCP connection.
        await eventually { !serverSide.all.isEmpty }
        XCTAssertEqual(serverSide.all.first?.code, .goingAway)
        XCTAssertEqual(serverSide.all.first?.wasClean, true)
    }

    func testBufferedAmountFromAnotherEventLoopDoesNotBlock() async throws {
        let opened = Recorder<WebSocketConnection>()
        let (server, port) = try await startEchoServer(onConnection: { opened.append($0) })
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        await eventually { !opened.all.isEmpty }
        let connection = opened.all[0]
        // Another event loop must not wait for this one (NIO traps a wait() there).
        let other = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let fromOtherLoop = try await other.next().submit { connection.bufferedAmount }.get()
        XCTAssertEqual(fromOtherLoop, 0)
        let onItsLoop = try await connection.eventLoop.submit { connection.bufferedAmount }.get()
        XCTAssertEqual(onItsLoop, 0)
        XCTAssertEqual(connection.bufferedAmount, 0)
        socket.close()
        await server.close()
        try await other.shutdownGracefully()
    }
}
