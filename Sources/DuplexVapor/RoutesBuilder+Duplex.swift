#if Vapor  // the trait that brings Vapor in (Package.swift)
import Duplex
import NIOCore
import NIOHTTP1
import SocketIO
import Vapor

extension RoutesBuilder {
    /// A Duplex WebSocket route: handshakes on `path` are decided and upgraded by Duplex
    /// with `configuration` (its `shouldUpgrade`, limits, compression, origins), and each
    /// new WebSocket goes to `onConnection`. Returns the server, for its `connections` and
    /// `close()`.
    @discardableResult
    public func duplexWebSocket(_ path: PathComponent..., configuration: WebSocketServer.Configuration = .init(),
                                onConnection: @escaping WebSocketServer.ConnectionHandler) -> WebSocketServer {
        let server = WebSocketServer(configuration: configuration, onConnection: onConnection)
        on(.GET, path, body: .stream) { request in
            try await DuplexRoute.answer(request, server: server)
        }
        return server
    }

    /// A whole Socket.IO server on its `options.path` (`/socket.io/`, with or without the
    /// trailing slash): long-polling (bodies collected up to `maxHttpBufferSize`, not
    /// Vapor's 16 KB default) and WebSocket.
    public func socketIO(_ io: SocketIOServer) {
        let server = io.engine.makeWebSocketServer()
        let path = io.options.engine.basePath.split(separator: "/").map { PathComponent(stringLiteral: String($0)) }
        for method in [HTTPMethod.GET, .POST, .OPTIONS] {
            on(method, path, body: .stream) { request in
                try await DuplexRoute.answer(request, server: server)
            }
        }
    }
}

/// A request on a Duplex endpoint, answered as Duplex answers it standalone.
enum DuplexRoute {
    static func answer(_ request: Request, server: WebSocketServer) async throws -> Response {
        let head = HTTPRequestHead(version: request.version, method: request.method, uri: request.url.string, headers: request.headers)
        if Handshake.isWebSocketAttempt(head) {
            switch server.hostedHandshake(head, remoteAddress: request.remoteAddress) {
            case .success(let handshake):
                let response = Response(status: .switchingProtocols, headers: handshake.responseHeaders)
                response.upgrader = DuplexUpgrader(handshake: handshake, server: server)
                return response
            case .failure(let error):
                return response(server.hostedRefusalResponse(error), closing: true)
            }
        }
        let limit = server.configuration.maxRequestBodySize
        let body: ByteBuffer
        do {
            body = try await request.body.collect(max: limit).get() ?? ByteBuffer()
        } catch let error as any AbortError where error.status == .payloadTooLarge {
            return response(.bodyTooLarge(limit: limit), closing: true)
        }
        // Vapor does not expose the connection: a long poll learns that its client left at
        // the next heartbeat instead of at once.
        let answered = request.eventLoop.makePromise(of: Void.self)
        let duplexRequest = Duplex.HTTPRequest(head: head, body: body, remoteAddress: request.remoteAddress,
                                               eventLoop: request.eventLoop, connectionClosed: answered.futureResult)
        let result = server.serveHosted(duplexRequest)
        result.whenComplete { _ in answered.succeed(()) }
        return response(try await result.get(), closing: false)
    }

    private static func response(_ response: Duplex.HTTPResponse, closing: Bool) -> Response {
        var headers = response.headers
        headers.remove(name: "Content-Length")  // Vapor sets it from the body
        if closing { headers.replaceOrAdd(name: "Connection", value: "close") }
        return Response(status: response.status, headers: headers, body: .init(buffer: response.body))
    }
}
#endif
