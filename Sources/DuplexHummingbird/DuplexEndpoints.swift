#if Hummingbird  // the trait that brings Hummingbird in (Package.swift)
import Duplex
import SocketIO
import Synchronization

/// The Duplex WebSocket routes and Socket.IO servers of a Hummingbird app. Give it to the
/// server (`server: .http1(duplex:)`, which upgrades their WebSockets) and to the router
/// (`router.addDuplex(_:)`, which serves Engine.IO long-polling and answers refused
/// handshakes):
///
/// ```swift
/// let duplex = DuplexEndpoints()
/// duplex.webSocket("/echo") { connection in connection.onText { connection.send($0) } }
/// duplex.socketIO(io)
/// router.addDuplex(duplex)
/// let app = Application(router: router, server: .http1(duplex: duplex))
/// ```
public final class DuplexEndpoints: Sendable {
    /// One mounted Duplex server: the requests it takes, and the (never listening) server
    /// that decides, upgrades and registers them.
    struct Endpoint: Sendable {
        /// The path as routed (`/echo`, `/socket.io`).
        let path: String
        /// Engine.IO answers its whole prefix (`/socket.io/...`); a WebSocket route one path.
        let isPrefix: Bool
        let server: WebSocketServer
        /// Whether plain requests go to the server's `httpHandler` (Engine.IO polling, a
        /// page); otherwise only handshakes are taken.
        let servesHTTP: Bool

        func matches(_ requestPath: String) -> Bool {
            let requestPath = DuplexEndpoints.normalized(requestPath)
            return requestPath == path || (isPrefix && requestPath.hasPrefix(path + "/"))
        }
    }

    private let endpoints = Mutex<[Endpoint]>([])

    public init() {}

    /// A Duplex WebSocket route: handshakes on `path` are decided and upgraded by Duplex
    /// with `configuration` (its `shouldUpgrade`, limits, compression, origins), and each
    /// new WebSocket goes to `onConnection`. Returns the server, for its `connections` and
    /// `close()`.
    @discardableResult
    public func webSocket(_ path: String, configuration: WebSocketServer.Configuration = .init(),
                          onConnection: @escaping WebSocketServer.ConnectionHandler) -> WebSocketServer {
        let server = WebSocketServer(configuration: configuration, onConnection: onConnection)
        add(Endpoint(path: Self.normalized(path), isPrefix: false, server: server, servesHTTP: false))
        return server
    }

    /// A whole Socket.IO server on its `options.path` (`/socket.io/`): long-polling and
    /// WebSocket, with its own limits (`maxHttpBufferSize` for polling bodies and messages).
    public func socketIO(_ io: SocketIOServer) {
        add(Endpoint(path: io.options.engine.basePath, isPrefix: true, server: io.engine.makeWebSocketServer(), servesHTTP: true))
    }

    /// A whole Duplex server on one path: its handshakes (its `shouldUpgrade` routes them)
    /// and its plain GET/POST/OPTIONS requests (its `httpHandler`), e.g. a page and the
    /// WebSocket it opens. Mount a server at several paths with several calls.
    public func mount(_ server: WebSocketServer, at path: String) {
        add(Endpoint(path: Self.normalized(path), isPrefix: false, server: server, servesHTTP: true))
    }

    private func add(_ endpoint: Endpoint) {
        endpoints.withLock { $0.append(endpoint) }
    }

    /// The endpoint a request path belongs to, if any.
    func endpoint(for path: String) -> Endpoint? {
        endpoints.withLock { $0.first { $0.matches(path) } }
    }

    var all: [Endpoint] { endpoints.withLock { $0 } }

    /// `/echo/` and `echo` route as `/echo`.
    static func normalized(_ path: String) -> String {
        var path = path.hasPrefix("/") ? path : "/" + path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }
}
#endif
