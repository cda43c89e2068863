import NIOCore
import NIOHTTP1

/// The client's side of the opening handshake: checking the server's answer (RFC 6455
/// §4.1, "the client MUST validate the server's response"). Pure, so each rule is testable
/// without a socket; `ClientHandshakeHandler` drives the exchange.
enum ClientHandshake {
    struct Accepted {
        var subprotocol: String?
        /// The response's `Sec-WebSocket-Extensions`, or "".
        var extensions: String
        var deflate: PerMessageDeflateCodec?
    }

    /// Checks a 101 response to a request with `key` that offered `protocols`.
    static func validate(_ head: HTTPResponseHead, key: String, protocols: [String],
                         compression: PerMessageDeflateOptions?) throws(WebSocketClientError) -> Accepted {
        guard head.headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" }) else {
            throw .invalidResponse("missing header Upgrade: websocket")
        }
        guard head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" }) else {
            throw .invalidResponse("missing header Connection: Upgrade")
        }
        let expected = Handshake.acceptValue(forKey: key)
        let accepts = head.headers["sec-websocket-accept"]
        guard accepts.count == 1, accepts[0].trimmingASCIISpaces() == expected else {
            throw .badAcceptKey(expected: expected, received: accepts.first)
        }
        var subprotocol: String?
        let chosenProtocols = head.headers["sec-websocket-protocol"]
        if !chosenProtocols.isEmpty {
            let chosen = chosenProtocols.joined(separator: ",").trimmingASCIISpaces()
            guard chosenProtocols.count == 1, protocols.contains(chosen) else {
                throw .invalidResponse("server chose subprotocol \"\(chosen)\", which was not offered")
            }
            subprotocol = chosen
        }
        let extensionValues = head.headers["sec-websocket-extensions"]
        var deflate: PerMessageDeflateCodec?
        do {
            if let agreement = try PerMessageDeflateNegotiation.checkResponse(extensionValues, options: compression), let compression {
                deflate = PerMessageDeflateCodec(agreement: agreement, options: compression)
            }
        } catch {
            throw .invalidResponse(error.reason)
        }
        return Accepted(subprotocol: subprotocol, extensions: extensionValues.joined(separator: ", "), deflate: deflate)
    }

    /// What a non-101 answer means for the caller: a redirect (not followed) or a refusal.
    static func refusal(_ head: HTTPResponseHead, body: ByteBuffer) -> WebSocketClientError {
        let code = Int(head.status.code)
        if (300...399).contains(code) {
            return .redirect(status: code, location: head.headers.first(name: "location"))
        }
        return .unexpectedStatus(status: code, reason: head.status.reasonPhrase, body: String(decoding: body.readableBytesView, as: UTF8.self))
    }
}
