import NIOHTTP1

/// The server's side of the opening handshake after the request is valid and the app has
/// accepted it: permessage-deflate, the subprotocol, the 101 response's headers. Pure, so
/// each rule is testable without a socket; the HTTP handler writes what it returns.
enum ServerHandshake {
    struct Accepted {
        var responseHeaders: HTTPHeaders
        var subprotocol: String?
        /// `Sec-WebSocket-Extensions` of the response, or "".
        var extensions: String
        var deflate: PerMessageDeflateCodec?
    }

    /// - Parameters:
    ///   - key: the request's validated `Sec-WebSocket-Key`.
    ///   - extraHeaders: headers the app's `shouldUpgrade` added.
    ///   - configuration: the route's WebSocket configuration (its compression).
    static func negotiate(
        _ request: HTTPRequestHead, key: String, extraHeaders: HTTPHeaders, configuration: WebSocketConfiguration,
        selectSubprotocol: (@Sendable ([String], HTTPRequestHead) -> String?)?
    ) throws(HandshakeError) -> Accepted {
        if extraHeaders.firstInvalidField != nil {
            throw HandshakeError(status: .internalServerError, reason: "internal server error")
        }
        // permessage-deflate (when enabled): a header that does not parse is a bad request;
        // offers the server cannot accept are declined (RFC 7692 §5), leaving the connection
        // uncompressed. Without compression the header is ignored.
        var deflate: PerMessageDeflateCodec?
        var extensions = ""
        let extensionValues = request.headers["sec-websocket-extensions"]
        if !extensionValues.isEmpty, let options = configuration.compression {
            let offers: [WebSocketExtensionOffer]
            do {
                offers = try ExtensionHeader.parse(extensionValues)
            } catch {
                throw HandshakeError(status: .badRequest, reason: error.description)
            }
            if let (response, agreement) = PerMessageDeflateNegotiation.accept(offers: offers, options: options) {
                deflate = PerMessageDeflateCodec(agreement: agreement, options: options)
                extensions = response
            }
        }

        let offered = Handshake.offeredSubprotocols(request)
        var subprotocol: String?
        if !offered.isEmpty, let selectSubprotocol, let chosen = selectSubprotocol(offered, request), offered.contains(chosen) {
            subprotocol = chosen
        }

        var headers = HTTPHeaders()
        headers.add(name: "Upgrade", value: "websocket")
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Sec-WebSocket-Accept", value: Handshake.acceptValue(forKey: key))
        if let subprotocol { headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol) }
        if !extensions.isEmpty { headers.add(name: "Sec-WebSocket-Extensions", value: extensions) }
        headers.add(contentsOf: extraHeaders)
        return Accepted(responseHeaders: headers, subprotocol: subprotocol, extensions: extensions, deflate: deflate)
    }
}
