import NIOCore
import NIOHTTP1
import XCTest

@testable import Duplex

/// Per-route settings: a route's connections get its limits and heartbeat, others the server's.
final class WebSocketRouteTests: XCTestCase {
    func testARouteHasItsOwnMessageLimit() async throws {
        var small = WebSocketConfiguration()
        small.maxMessageSize = 100
        let route = WebSocketRoute(configuration: small)
        let (server, port) = try await startEchoServer { configuration in
            configuration.shouldUpgrade = { head, _ in head.uri.hasPrefix("/small") ? .accept(route: route) : .accept() }
        }
        let big = String(repeating: "x", count: 200)

        let plain = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        plain.send(big)
        var replies = plain.messages.makeAsyncIterator()
        let echoed = try await replies.next()
        XCTAssertEqual(echoed, .text(big))

        let limited = try await WebSocket.connect("ws://127.0.0.1:\(port)/small", configuration: clientConfiguration())
        limited.send(big)
        let closed = try await limited.waitUntilClosed()
        XCTAssertEqual(closed.code, .messageTooBig)
        plain.close()
        await server.close()
    }

    func testARouteHasItsOwnHeartbeat() async throws {
        var chatty = WebSocketConfiguration()
        chatty.pingInterval = .milliseconds(100)
        let route = WebSocketRoute(configuration: chatty)
        let (server, port) = try await startEchoServer { configuration in
            configuration.webSocket.pingInterval = nil  // the server's default: no heartbeat
            configuration.shouldUpgrade = { head, _ in head.uri.hasPrefix("/chatty") ? .accept(route: route) : .accept() }
        }
        let quiet = try await RawWebSocket.open(port: port, path: "/")
        let pinged = try await RawWebSocket.open(port: port, path: "/chatty")
        // The raw client never answers: pinged once, then dropped as dead; the other is left alone.
        await eventually(timeout: 3) { pinged.client.isClosed }
        XCTAssertTrue(Array(pinged.client.bodyAfterHead?.readableBytesView ?? []).starts(with: [0x89, 0x00]), "a ping first")
        XCTAssertFalse(quiet.client.isClosed)
        XCTAssertEqual(quiet.client.bodyAfterHead?.readableBytes, 0, "no heartbeat on the server's own connections")
        await server.close(timeout: .milliseconds(50))
    }
}
