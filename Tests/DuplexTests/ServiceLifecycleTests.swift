import Logging
import NIOCore
import ServiceLifecycle
import XCTest

@testable import Duplex

/// `WebSocketServer` is a swift-service-lifecycle `Service`: in a `ServiceGroup`, graceful
/// shutdown (what SIGTERM triggers) closes every connection with 1001 and waits for the
/// close handshakes; cancelling its task does the same.
final class ServiceLifecycleTests: XCTestCase {
    func testGracefulShutdownOfTheGroupClosesEveryConnectionWith1001() async throws {
        let (server, port) = try await startEchoServer()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let group = ServiceGroup(services: [server], logger: logger)
        let running = Task { try await group.run() }
        let sockets = try await withThrowingTaskGroup(of: WebSocket.self) { connecting in
            for _ in 0..<3 { connecting.addTask { try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration()) } }
            return try await connecting.reduce(into: []) { $0.append($1) }
        }
        await group.triggerGracefulShutdown()
        for socket in sockets {
            let event = await socket.waitUntilClosed()
            XCTAssertEqual(event.code, .goingAway)
            XCTAssertTrue(event.wasClean, "the close handshake completed")
        }
        try await running.value  // the group ends once the server has closed
        XCTAssertTrue(server.isClosing)
    }

    func testCancellingTheRunTaskClosesTheServer() async throws {
        let (server, port) = try await startEchoServer()
        let running = Task { try await server.run() }
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        running.cancel()
        let event = await socket.waitUntilClosed()
        XCTAssertEqual(event.code, .goingAway)
        try await running.value
    }
}
