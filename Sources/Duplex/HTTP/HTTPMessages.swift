import NIOCore
import NIOHTTP1

/// A plain HTTP request that is not a WebSocket handshake, for the server's HTTP handler.
public struct HTTPRequest: Sendable {
    /// The request line and headers as SwiftNIO parsed them.
    public let head: HTTPRequestHead
    /// The request method (`GET`, `POST`...).
    public var method: HTTPMethod { head.method }
    /// The request target as sent, path and query, e.g. `/socket.io/?EIO=4`.
    public var uri: String { head.uri }
    /// The request headers.
    public var headers: HTTPHeaders { head.headers }
    /// The path without the query.
    public let path: String
    /// The percent-decoded query parameters.
    public let query: [String: String]
    /// The body, up to the server's `maxRequestBodySize`.
    public let body: ByteBuffer
    /// The peer's address (a proxy's, behind one); nil when unknown.
    public let remoteAddress: SocketAddress?
    /// The connection's event loop: make the response future here.
    public let eventLoop: EventLoop
    /// Completes when the client's TCP connection closes (a long poll can stop waiting).
    public let connectionClosed: EventLoopFuture<Void>

    /// A request as the server hands it to ``WebSocketServer/Configuration/httpHandler`` (for
    /// tests, or to forward requests from another server).
    public init(head: HTTPRequestHead, body: ByteBuffer, remoteAddress: SocketAddress?, eventLoop: EventLoop, connectionClosed: EventLoopFuture<Void>) {
        self.head = head
        (self.path, self.query) = URIQuery.split(head.uri)
        self.body = body
        self.remoteAddress = remoteAddress
        self.eventLoop = eventLoop
        self.connectionClosed = connectionClosed
    }
}

/// The response to a plain HTTP request. `Content-Length` is set by the server.
public struct HTTPResponse: Sendable {
    /// The status line (200 by default).
    public var status: HTTPResponseStatus
    /// The response headers; the server adds `Content-Length`, `X-Content-Type-Options:
    /// nosniff` and, when closing, `Connection: close`. A value containing CR or LF turns the
    /// response into a 500.
    public var headers: HTTPHeaders
    /// The whole body, sent at once.
    public var body: ByteBuffer

    /// A response with a binary body (empty by default).
    public init(status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A text response: `body` as UTF-8, with `Content-Type` set to `contentType` unless
    /// `headers` already has one.
    public init(status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8", headers: HTTPHeaders = [:], body: String) {
        var headers = headers
        if !headers.contains(name: "content-type") { headers.add(name: "Content-Type", value: contentType) }
        self.init(status: status, headers: headers, body: ByteBuffer(string: body))
    }
}

