import NIOCore
import NIOHTTP1

/// A `WebSocketServer` hosted by another framework's HTTP server (Hummingbird, Vapor):
/// the framework owns the port and the HTTP codec; Duplex keeps its decision, frame codec,
/// compression, limits, backpressure and registry. The server never listens: it gives its
/// configuration, its connection count, memory budget and heartbeat to the WebSockets it
/// adopts, and `close()` still closes them all.
///
/// The flow: ``hostedHandshake(_:remoteAddress:)`` decides (the framework answers a
/// refusal with ``hostedRefusalResponse(_:)``); the framework writes the 101 with the
/// accepted headers and takes its HTTP handlers off the channel; ``adoptWebSocket(_:on:)``
/// installs Duplex's pipeline. Plain requests on the server's paths (Engine.IO polling) go
/// to ``serveHosted(_:)`` with their body collected up to `maxRequestBodySize`.
extension WebSocketServer {
    /// The decision on a handshake that reached the host: Duplex's request policy (origins;
    /// the host's own `Host` checks are the framework's), its connection limit, then
    /// ``decideHandshake(_:remoteAddress:)``.
    package func hostedHandshake(_ request: HTTPRequestHead, remoteAddress: SocketAddress?) -> Result<AcceptedHandshake, HandshakeError> {
        if let refusal = requestPolicy.refusal(of: request, loopbackOnly: false) {
            return .failure(HandshakeError(status: .forbidden, reason: refusal))
        }
        guard hasConnectionSlot else {
            return .failure(HandshakeError(status: .serviceUnavailable, reason: "server is at its connection limit"))
        }
        return decideHandshake(request, remoteAddress: remoteAddress)
    }

    /// Takes over `channel` after the host wrote the 101 response and removed its HTTP
    /// handlers: Duplex's WebSocket handler goes at the end of the pipeline, the connection
    /// is registered and `onConnection` runs. Call on the channel's event loop. When the
    /// connection limit was reached meanwhile, the WebSocket is closed at once with 1013.
    @discardableResult
    package func adoptWebSocket(_ handshake: AcceptedHandshake, on channel: Channel) throws -> WebSocketConnection {
        let connection = try installWebSocket(handshake, on: channel)
        guard reserveConnectionSlot() else {
            connection.close(code: .tryAgainLater, reason: "server is at its connection limit")
            return connection
        }
        // The heartbeat starts with the first WebSocket (a hosted server never listens);
        // later calls find it running.
        if let interval = configuration.webSocket.pingInterval { scheduleHeartbeat(every: interval) }
        connectionOpened(connection)
        return connection
    }

    /// The HTTP answer to a refused handshake, as Duplex's own HTTP handler gives it.
    package func hostedRefusalResponse(_ error: HandshakeError) -> HTTPResponse {
        metrics.handshakeRejected(status: Int(error.status.code))
        var headers = error.headers
        headers.replaceOrAdd(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        return HTTPResponse(status: error.status, headers: headers, body: ByteBuffer(string: error.reason + "\n"))
    }

    /// Answers a plain request on a hosted server's path (Engine.IO polling and preflight):
    /// the request policy, then the configured `httpHandler` (426 without one). Long polls
    /// complete later; the future always succeeds (a failing handler is a 500).
    package func serveHosted(_ request: HTTPRequest) -> EventLoopFuture<HTTPResponse> {
        if let refusal = requestPolicy.refusal(of: request.head, loopbackOnly: false) {
            return request.eventLoop.makeSucceededFuture(HTTPResponse(status: .forbidden, body: refusal + "\n").noSniff())
        }
        guard let handler = configuration.httpHandler else {
            return request.eventLoop.makeSucceededFuture(
                HTTPResponse(status: .upgradeRequired, headers: ["Upgrade": "websocket"], body: "this is a WebSocket endpoint: send a WebSocket handshake\n").noSniff())
        }
        let logger = configuration.logger
        return handler(request).map { response in
            // CR/LF in a header (a decoded query value, say) would let request data write
            // headers of its own: as standalone, nothing of such a response is sent.
            if let field = response.headers.firstInvalidField {
                logger.error("refusing to send a response with an invalid header field; answering 500 instead",
                             metadata: ["field": "\(field)", "uri": "\(request.uri)"])
                return HTTPResponse(status: .internalServerError, body: "internal server error\n").noSniff()
            }
            return response.noSniff()
        }.flatMapErrorThrowing { error in
            logger.error("HTTP handler failed", metadata: ["error": "\(error)", "uri": "\(request.uri)"])
            return HTTPResponse(status: .internalServerError, body: "internal server error\n").noSniff()
        }
    }

    /// Whether a WebSocket could open now (checked again, atomically, when it is adopted).
    private var hasConnectionSlot: Bool {
        guard reserveConnectionSlot() else { return false }
        releaseConnectionSlot()
        return true
    }
}

extension HTTPResponse {
    /// 413 for a request body over `limit` bytes (Duplex closes the connection after it).
    package static func bodyTooLarge(limit: Int) -> HTTPResponse {
        HTTPResponse(status: .payloadTooLarge, body: "request body over \(limit) bytes\n")
    }

    /// No response body is to be sniffed into another type (an error text as HTML).
    func noSniff() -> HTTPResponse {
        guard !headers.contains(name: "x-content-type-options") else { return self }
        var response = self
        response.headers.add(name: "X-Content-Type-Options", value: "nosniff")
        return response
    }
}
