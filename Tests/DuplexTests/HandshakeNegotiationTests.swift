import NIOCore
import NIOHTTP1
import XCTest

@testable import Duplex

/// Both sides' negotiation as pure functions: the 101 the server sends, and what the client
/// accepts of it.
final class HandshakeNegotiationTests: XCTestCase {
    private let key = "dGhlIHNhbXBsZSBub25jZQ=="

    private func request(_ headers: [(String, String)] = []) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: HTTPHeaders(headers))
    }

    func testTheServerAnswersWithAcceptKeySubprotocolAndExtension() throws {
        var configuration = WebSocketConfiguration()
        configuration.compression = .shared
        let accepted = try ServerHandshake.negotiate(
            request([("Sec-WebSocket-Protocol", "a, b"), ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")]),
            key: key, extraHeaders: ["X-Extra": "1"], configuration: configuration,
            selectSubprotocol: { offered, _ in offered.last })
        XCTAssertEqual(accepted.responseHeaders.first(name: "sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        XCTAssertEqual(accepted.subprotocol, "b")
        XCTAssertTrue(accepted.extensions.hasPrefix("permessage-deflate"), accepted.extensions)
        XCTAssertNotNil(accepted.deflate)
        XCTAssertEqual(accepted.responseHeaders.first(name: "x-extra"), "1")
    }

    func testTheServerIgnoresExtensionsWithoutCompressionAndRefusesMalformedOnes() throws {
        let plain = try ServerHandshake.negotiate(request([("Sec-WebSocket-Extensions", "permessage-deflate")]), key: key,
                                                  extraHeaders: [:], configuration: WebSocketConfiguration(), selectSubprotocol: nil)
        XCTAssertEqual(plain.extensions, "")
        XCTAssertNil(plain.deflate)
        var configuration = WebSocketConfiguration()
        configuration.compression = .shared
        XCTAssertThrowsError(try ServerHandshake.negotiate(request([("Sec-WebSocket-Extensions", "permessage-deflate; =")]), key: key,
                                                           extraHeaders: [:], configuration: configuration, selectSubprotocol: nil)) {
            XCTAssertEqual(($0 as? HandshakeError)?.status, .badRequest)
        }
    }

    func testAnInvalidExtraHeaderIsNeverSent() {
        XCTAssertThrowsError(try ServerHandshake.negotiate(request(), key: key, extraHeaders: ["X-Bad": "a\r\nSet-Cookie: x"],
                                                           configuration: WebSocketConfiguration(), selectSubprotocol: nil)) {
            XCTAssertEqual(($0 as? HandshakeError)?.status, .internalServerError)
        }
    }

    func testTheClientChecksTheServersAnswer() throws {
        let good: HTTPHeaders = ["Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                                 "Sec-WebSocket-Protocol": "chat"]
        let head = HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: good)
        let accepted = try ClientHandshake.validate(head, key: key, protocols: ["chat"], compression: nil)
        XCTAssertEqual(accepted.subprotocol, "chat")

        XCTAssertThrowsError(try ClientHandshake.validate(head, key: "AAAAAAAAAAAAAAAAAAAAAA==", protocols: ["chat"], compression: nil)) {
            guard case .badAcceptKey = $0 as? WebSocketClientError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try ClientHandshake.validate(head, key: key, protocols: ["other"], compression: nil)) {
            guard case .invalidResponse(let reason) = $0 as? WebSocketClientError else { return XCTFail("\($0)") }
            XCTAssertTrue(reason.contains("not offered"), reason)
        }
        var noUpgrade = good
        noUpgrade.remove(name: "Upgrade")
        XCTAssertThrowsError(try ClientHandshake.validate(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: noUpgrade),
                                                          key: key, protocols: ["chat"], compression: nil))
    }

    func testARedirectIsNotFollowed() {
        let head = HTTPResponseHead(version: .http1_1, status: .found, headers: ["Location": "/elsewhere"])
        XCTAssertEqual(ClientHandshake.refusal(head, body: ByteBuffer()), .redirect(status: 302, location: "/elsewhere"))
    }
}
