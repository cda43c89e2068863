import NIOCore
import NIOHTTP1
import Foundation
import XCTest

@testable import Duplex

final class HandshakeTests: XCTestCase {
    private func request(
        method: HTTPMethod = .GET, version: HTTPVersion = .http1_1, removing: [String] = [], adding: [(String, String)] = []
    ) -> HTTPRequestHead {
        var headers: HTTPHeaders = [
            "Host": "example.com",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
        ]
        for name in removing { headers.remove(name: name) }
        for (name, value) in adding { headers.add(name: name, value: value) }
        return HTTPRequestHead(version: version, method: method, uri: "/chat", headers: headers)
    }

    private func assertRefused(_ head: HTTPRequestHead, _ status: HTTPResponseStatus, _ fragment: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Handshake.validate(head), file: file, line: line) { error in
            guard let error = error as? HandshakeError else { return XCTFail("not a HandshakeError: \(error)", file: file, line: line) }
            XCTAssertEqual(error.status, status, file: file, line: line)
            XCTAssertTrue(error.reason.contains(fragment), "\(error.reason) lacks \(fragment)", file: file, line: line)
            XCTAssertFalse(error.reason.contains("\n"), "reason is one line", file: file, line: line)
        }
    }

    func testAcceptValueFromRFC6455() {
        XCTAssertEqual(Handshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    /// FIPS 180-4 test vectors, checked against Python's hashlib too (55/56/64-byte
    /// messages cross the padding boundaries).
    func testSHA1Vectors() {
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        XCTAssertEqual(hex(SHA1.digest("".utf8)), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(hex(SHA1.digest("abc".utf8)), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(hex(SHA1.digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        XCTAssertEqual(hex(SHA1.digest([UInt8](repeating: 0x61, count: 1_000_000))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
        XCTAssertEqual(hex(SHA1.digest([UInt8](repeating: 0x62, count: 55))), "4d055f5334ac4bca50260deff4707cd8d4fc1454")
        XCTAssertEqual(hex(SHA1.digest([UInt8](repeating: 0x62, count: 56))), "049adea016c8a8e3b7a9054aeeaa8643453bebd9")
        XCTAssertEqual(hex(SHA1.digest([UInt8](repeating: 0x62, count: 64))), "9d682ff9a7018603023176b8c12926c6a15510ee")
    }

    func testValidRequest() throws {
        XCTAssertEqual(try Handshake.validate(request()), "dGhlIHNhbXBsZSBub25jZQ==")
        // Token lists and any case.
        let head = request(removing: ["Connection", "Upgrade"], adding: [("connection", "keep-alive, UPGRADE"), ("upgrade", "WebSocket")])
        XCTAssertNoThrow(try Handshake.validate(head))
    }

    func testEveryRefusal() {
        assertRefused(request(method: .POST), .badRequest, "GET")
        assertRefused(request(version: .http1_0), .badRequest, "HTTP/1.1")
        assertRefused(request(removing: ["Upgrade"]), .badRequest, "Upgrade")
        assertRefused(request(removing: ["Upgrade"], adding: [("Upgrade", "h2c")]), .badRequest, "Upgrade")
        assertRefused(request(removing: ["Connection"]), .badRequest, "Connection")
        assertRefused(request(removing: ["Connection"], adding: [("Connection", "keep-alive")]), .badRequest, "Connection")
        assertRefused(request(removing: ["Sec-WebSocket-Version"]), .upgradeRequired, "Sec-WebSocket-Version")
        assertRefused(request(removing: ["Sec-WebSocket-Version"], adding: [("Sec-WebSocket-Version", "8")]), .upgradeRequired, "8")
        assertRefused(request(removing: ["Sec-WebSocket-Key"]), .badRequest, "missing header Sec-WebSocket-Key")
        assertRefused(request(adding: [("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")]), .badRequest, "more than one")
        assertRefused(request(removing: ["Sec-WebSocket-Key"], adding: [("Sec-WebSocket-Key", "c2hvcnQ=")]), .badRequest, "16 bytes")
        assertRefused(request(removing: ["Sec-WebSocket-Key"], adding: [("Sec-WebSocket-Key", "not base64 at all!!!!!!!")]), .badRequest, "16 bytes")
    }

    func testWrongVersionAnnouncesThirteen() {
        let head = request(removing: ["Sec-WebSocket-Version"], adding: [("Sec-WebSocket-Version", "8")])
        XCTAssertThrowsError(try Handshake.validate(head)) { error in
            XCTAssertEqual((error as? HandshakeError)?.headers.first(name: "Sec-WebSocket-Version"), "13")
        }
    }

    func testSubprotocolOffers() {
        let head = request(adding: [("Sec-WebSocket-Protocol", "chat, superchat"), ("Sec-WebSocket-Protocol", " v2 ")])
        XCTAssertEqual(Handshake.offeredSubprotocols(head), ["chat", "superchat", "v2"])
    }

    func testClientKeysAreFreshBase64Of16Bytes() {
        let keys = (0..<50).map { _ in Handshake.makeClientKey() }
        XCTAssertEqual(Set(keys).count, keys.count)
        for key in keys { XCTAssertTrue(Handshake.isValidKey(key), key) }
    }

    func testWebSocketAttemptDetection() {
        XCTAssertTrue(Handshake.isWebSocketAttempt(request()))
        XCTAssertTrue(Handshake.isWebSocketAttempt(request(removing: ["Upgrade", "Connection", "Sec-WebSocket-Key"])))
        let plain = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["Host": "x"])
        XCTAssertFalse(Handshake.isWebSocketAttempt(plain))
    }
}

final class URLTests: XCTestCase {
    func testParsing() throws {
        var url = try WebSocketURL("ws://example.com/chat?room=1")
        XCTAssertEqual(url, WebSocketURL(secure: false, host: "example.com", port: 80, resource: "/chat?room=1"))
        XCTAssertEqual(url.hostHeader, "example.com")
        url = try WebSocketURL("wss://example.com")
        XCTAssertEqual(url, WebSocketURL(secure: true, host: "example.com", port: 443, resource: "/"))
        url = try WebSocketURL("WSS://127.0.0.1:8443?x=y")
        XCTAssertEqual(url, WebSocketURL(secure: true, host: "127.0.0.1", port: 8443, resource: "/?x=y"))
        XCTAssertEqual(url.hostHeader, "127.0.0.1:8443")
        XCTAssertTrue(url.isIPAddress)
        url = try WebSocketURL("ws://[::1]:9001/a")
        XCTAssertEqual(url.host, "::1")
        XCTAssertEqual(url.hostHeader, "[::1]:9001")
        url = try WebSocketURL("https://localhost/")
        XCTAssertTrue(url.secure)
        XCTAssertFalse(url.isIPAddress)
    }

    func testRejections() {
        for bad in ["example.com", "ftp://example.com/", "ws://example.com/#frag", "ws://:80/", "ws://host:0/",
                    "ws://host:70000/", "ws://host:abc/", "ws://user@host/", "ws://[::1/", "ws://host/a b"] {
            XCTAssertThrowsError(try WebSocketURL(bad), bad) { error in
                guard case .invalidURL = error as? WebSocketClientError else { return XCTFail("\(bad): \(error)") }
            }
        }
    }
}
