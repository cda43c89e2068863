import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import XCTest

@testable import Duplex

/// A `WebSocketServer` hosted by another framework (the entry points DuplexHummingbird and
/// DuplexVapor use): the decision, the adoption of a channel whose HTTP handlers the host
/// removed, the server's bounds, the host's graceful shutdown. Frameworks and real clients:
/// Tests/frameworks.
final class HostedServerTests: XCTestCase {
    private func handshake(_ uri: String = "/echo", headers extra: [(String, String)] = []) -> HTTPRequestHead {
        var headers = HTTPHeaders([("Host", "127.0.0.1:8080"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                   ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13")])
        headers.add(contentsOf: extra)
        return HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers)
    }

    private func makeServer(loop: EmbeddedEventLoop, _ configure: (inout WebSocketServer.Configuration) -> Void = { _ in }) -> WebSocketServer {
        var configuration = WebSocketServer.Configuration()
        configuration.logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        configuration.webSocket.pingInterval = nil
        configure(&configuration)
        return WebSocketServer(configuration: configuration, group: loop) { connection in
            connection.onText { connection.send($0) }
        }
    }

    /// A masked client text frame.
    private func clientText(_ text: String) -> ByteBuffer {
        let payload = Array(text.utf8)
        let mask: [UInt8] = [1, 2, 3, 4]
        var frame = ByteBuffer(bytes: [0x81, 0x80 | UInt8(payload.count)] + mask)
        frame.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        return frame
    }

    func testAnAdoptedChannelSpeaksDuplexFramesAndIsRegistered() throws {
        let loop = EmbeddedEventLoop()
        let server = makeServer(loop: loop)
        let accepted = try server.hostedHandshake(handshake(), remoteAddress: nil).get()
        XCTAssertEqual(accepted.responseHeaders["Sec-WebSocket-Accept"], ["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="])

        let channel = EmbeddedChannel(loop: loop)
        try server.adoptWebSocket(accepted, on: channel)
        XCTAssertEqual(server.connections.count, 1)
        try channel.writeInbound(clientText("hi"))
        let echoed = try XCTUnwrap(channel.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(Array(echoed.readableBytesView), [0x81, 0x02] + Array("hi".utf8))
        _ = try? channel.finish()
        XCTAssertEqual(server.connections.count, 0)
    }

    func testARefusalIsAnsweredAsStandalone() throws {
        let loop = EmbeddedEventLoop()
        let server = makeServer(loop: loop) { configuration in
            configuration.shouldUpgrade = { _, _ in .reject(HandshakeError(status: .unauthorized, reason: "who are you")) }
        }
        XCTAssertThrowsError(try server.hostedHandshake(handshake(), remoteAddress: nil).get()) { error in
            let response = server.hostedRefusalResponse(error as! HandshakeError)
            XCTAssertEqual(response.status, .unauthorized)
            XCTAssertEqual(String(buffer: response.body), "who are you\n")
            XCTAssertEqual(response.headers["X-Content-Type-Options"], ["nosniff"])
        }
        // The origin policy applies to hosted handshakes too.
        let foreign = server.hostedHandshake(handshake(headers: [("Origin", "http://evil.example")]), remoteAddress: nil)
        guard case .failure(let error) = foreign else { return XCTFail("a foreign origin was accepted") }
        XCTAssertEqual(error.status, .forbidden)
    }

    func testTheConnectionLimitHoldsForHostedWebSockets() throws {
        let loop = EmbeddedEventLoop()
        let server = makeServer(loop: loop) { $0.maxConnections = 1 }
        let first = EmbeddedChannel(loop: loop)
        try server.adoptWebSocket(try server.hostedHandshake(handshake(), remoteAddress: nil).get(), on: first)
        guard case .failure(let error) = server.hostedHandshake(handshake(), remoteAddress: nil) else {
            return XCTFail("a second WebSocket was accepted over maxConnections = 1")
        }
        XCTAssertEqual(error.status, .serviceUnavailable)
        _ = try? first.finish()
    }

    func testTheHostsQuiesceEventClosesWith1001() throws {
        let loop = EmbeddedEventLoop()
        let server = makeServer(loop: loop)
        let channel = EmbeddedChannel(loop: loop)
        try server.adoptWebSocket(try server.hostedHandshake(handshake(), remoteAddress: nil).get(), on: channel)
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        let close = try XCTUnwrap(channel.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(Array(close.readableBytesView.prefix(4)), [0x88, UInt8(close.readableBytes - 2), 0x03, 0xE9])
        _ = try? channel.finish()
    }

    func testAHostedResponseWithAnInvalidHeaderIsA500() throws {
        let loop = EmbeddedEventLoop()
        let server = makeServer(loop: loop) { configuration in
            configuration.httpHandler = { request in
                request.eventLoop.makeSucceededFuture(HTTPResponse(headers: ["X-Echo": "a\r\nSet-Cookie: x=1"], body: "no"))
            }
        }
        let request = HTTPRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/poll", headers: ["Host": "127.0.0.1"]),
                                  body: ByteBuffer(), remoteAddress: nil, eventLoop: loop, connectionClosed: loop.makeSucceededVoidFuture())
        let response = try server.serveHosted(request).wait()
        XCTAssertEqual(response.status, .internalServerError)
        XCTAssertFalse(response.headers.contains(name: "X-Echo"))
    }
}
