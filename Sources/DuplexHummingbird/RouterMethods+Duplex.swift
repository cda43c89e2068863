#if Hummingbird  // the trait that brings Hummingbird in (Package.swift)
import Duplex
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

extension RouterMethods {
    /// Routes the plain requests of Duplex's endpoints through this router (so its
    /// middleware sees them): Engine.IO long-polling (GET/POST/OPTIONS on the Socket.IO
    /// path, with or without its trailing slash), and the HTTP answer to a handshake Duplex
    /// refused (its status and reason). The upgrades themselves happen in the server
    /// (`.http1(duplex:)`). Add the endpoints first: the routes are made here, once.
    @discardableResult
    public func addDuplex(_ endpoints: DuplexEndpoints) -> Self {
        for endpoint in endpoints.all {
            let methods: [HTTPTypes.HTTPRequest.Method] = endpoint.servesHTTP ? [.get, .post, .options] : [.get]
            // Hummingbird's router ignores a trailing slash: this serves `/socket.io/` too.
            for method in methods {
                on(RouterPath(endpoint.path), method: method) { request, _ in
                    try await DuplexRoute.answer(request, server: endpoint.server)
                }
            }
        }
        return self
    }
}

/// A plain request on a Duplex endpoint, answered as Duplex answers it standalone.
enum DuplexRoute {
    static func answer(_ request: Request, server: WebSocketServer) async throws -> Response {
        guard let channel = DuplexConnectionChannel.current else {
            return Response(status: .internalServerError, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: "Duplex endpoints need the Duplex server: Application(router:server: .http1(duplex:))\n")))
        }
        let head = try HTTPRequestHead(request.head)
        if Handshake.isWebSocketAttempt(head) {
            switch server.hostedHandshake(head, remoteAddress: channel.remoteAddress) {
            case .failure(let error):
                return response(server.hostedRefusalResponse(error), closing: true)
            case .success:
                // A valid handshake that was not the connection's first request (only that
                // one can upgrade here): the client retries on a new connection.
                return Response(status: .temporaryRedirect, headers: [.location: request.uri.string, .connection: "close"])
            }
        }
        let limit = server.configuration.maxRequestBodySize
        var body = ByteBuffer()
        for try await var chunk in request.body {
            guard body.readableBytes + chunk.readableBytes <= limit else {
                return response(.bodyTooLarge(limit: limit), closing: true)
            }
            body.writeBuffer(&chunk)
        }
        let duplexRequest = Duplex.HTTPRequest(head: head, body: body, remoteAddress: channel.remoteAddress,
                                               eventLoop: channel.eventLoop, connectionClosed: channel.closeFuture)
        return response(try await server.serveHosted(duplexRequest).get(), closing: false)
    }

    private static func response(_ response: Duplex.HTTPResponse, closing: Bool) -> Response {
        var headers = HTTPFields(response.headers, splitCookie: false)
        headers[.contentLength] = nil  // Hummingbird sets it from the body
        if closing { headers[.connection] = "close" }
        let status = HTTPTypes.HTTPResponse.Status(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase)
        return Response(status: status, headers: headers, body: .init(byteBuffer: response.body))
    }
}
#endif
