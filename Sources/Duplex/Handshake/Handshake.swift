#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import NIOCore
import NIOHTTP1

/// Why an opening handshake was refused: the HTTP status and a one-line reason for the body.
public struct HandshakeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The status the handshake is refused with (400, 403, 426, 503...).
    public var status: HTTPResponseStatus
    /// A one-line explanation, sent as the response body and logged.
    public var reason: String
    /// Extra response headers, e.g. `Sec-WebSocket-Version: 13` with a 426 or
    /// `WWW-Authenticate` with a 401.
    public var headers: HTTPHeaders

    /// A refusal with this status, reason and extra headers.
    public init(status: HTTPResponseStatus, reason: String, headers: HTTPHeaders = [:]) {
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    public var description: String { "\(status.code) \(status.reasonPhrase): \(reason)" }

    /// Equal when status code, reason and headers are equal.
    public static func == (lhs: HandshakeError, rhs: HandshakeError) -> Bool {
        lhs.status == rhs.status && lhs.reason == rhs.reason
    }
}

/// The server side of the opening handshake (RFC 6455 §4.2): request validation and the
/// accept key. Pure functions, so every rule is unit-testable without a socket.
public enum Handshake {
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// Whether a request is an attempt to open a WebSocket (as opposed to plain HTTP):
    /// it names the websocket upgrade or carries a WebSocket key or version.
    public static func isWebSocketAttempt(_ head: HTTPRequestHead) -> Bool {
        head.headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
            || head.headers.contains(name: "sec-websocket-key")
            || head.headers.contains(name: "sec-websocket-version")
    }

    /// Validates an upgrade request and returns its `Sec-WebSocket-Key`.
    public static func validate(_ head: HTTPRequestHead) throws(HandshakeError) -> String {
        guard head.method == .GET else {
            throw HandshakeError(status: .badRequest, reason: "WebSocket handshake must use GET, not \(head.method.rawValue)")
        }
        guard head.version.major == 1 && head.version.minor >= 1 || head.version.major > 1 else {
            throw HandshakeError(status: .badRequest, reason: "WebSocket handshake needs HTTP/1.1 or later")
        }
        guard head.headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" }) else {
            throw HandshakeError(status: .badRequest, reason: "missing or invalid header Upgrade: websocket")
        }
        guard head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" }) else {
            throw HandshakeError(status: .badRequest, reason: "missing or invalid header Connection: Upgrade")
        }
        let versions = head.headers["sec-websocket-version"]
        guard versions.count == 1, let version = versions.first?.trimmingASCIISpaces() else {
            throw HandshakeError(status: .upgradeRequired, reason: "missing header Sec-WebSocket-Version (supported: 13)",
                                 headers: ["Sec-WebSocket-Version": "13"])
        }
        guard version == "13" else {
            throw HandshakeError(status: .upgradeRequired, reason: "unsupported Sec-WebSocket-Version \(version) (supported: 13)",
                                 headers: ["Sec-WebSocket-Version": "13"])
        }
        let keys = head.headers["sec-websocket-key"]
        guard keys.count == 1, let key = keys.first?.trimmingASCIISpaces() else {
            throw HandshakeError(status: .badRequest, reason: keys.isEmpty ? "missing header Sec-WebSocket-Key" : "more than one Sec-WebSocket-Key")
        }
        guard isValidKey(key) else {
            throw HandshakeError(status: .badRequest, reason: "Sec-WebSocket-Key must be base64 of 16 bytes")
        }
        return key
    }

    /// A key is the base64 encoding of exactly 16 bytes.
    static func isValidKey(_ key: String) -> Bool {
        key.utf8.count == 24 && Data(base64Encoded: key)?.count == 16
    }

    /// `Sec-WebSocket-Accept`: base64(SHA-1(key + GUID)).
    public static func acceptValue(forKey key: String) -> String {
        Data(SHA1.digest((key + guid).utf8)).base64EncodedString()
    }

    /// The subprotocols a client offers, in its order of preference.
    public static func offeredSubprotocols(_ head: HTTPRequestHead) -> [String] {
        head.headers["sec-websocket-protocol"].flatMap { $0.split(separator: ",") }
            .map { String($0).trimmingASCIISpaces() }.filter { !$0.isEmpty }
    }

    /// A fresh random client key.
    static func makeClientKey() -> String {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return Data(bytes).base64EncodedString()
    }
}
