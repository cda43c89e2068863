import NIOCore
import NIOHTTP1

/// A plain HTTP request that is not a WebSocket handshake, for the server's HTTP handler.
public struct HTTPRequest: Sendable {
    public let head: HTTPRequestHead
    public var method: HTTPMethod { head.method }
    public var uri: String { head.uri }
    public var headers: HTTPHeaders { head.headers }
    /// The path without the query.
    public let path: String
    /// The percent-decoded query parameters.
    public let query: [String: String]
    /// The body, up to the server's `maxRequestBodySize`.
    public let body: ByteBuffer
    public let remoteAddress: SocketAddress?
    public let eventLoop: EventLoop
    /// Completes when the client's TCP connection closes (a long poll can stop waiting).
    public let connectionClosed: EventLoopFuture<Void>

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
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8", headers: HTTPHeaders = [:], body: String) {
        var headers = headers
        if !headers.contains(name: "content-type") { headers.add(name: "Content-Type", value: contentType) }
        self.init(status: status, headers: headers, body: ByteBuffer(string: body))
    }
}

