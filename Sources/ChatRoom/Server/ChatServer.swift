import Duplex
import Foundation
import SocketIO
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// `duplex chat`: the page at `/` and the chat WebSocket on one port, history in SQLite.
public final class ChatServer: Sendable {
    public enum Storage: Sendable {
        case memory
        case sqlite(path: String)
    }

    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 3000
        public var storage = Storage.sqlite(path: "chat.sqlite")
        public var settings = ChatHub.Settings()
        public var server = WebSocketServer.Configuration()
        public var logger = Logger(label: "duplex.chat")
        public init() {}
    }

    public let configuration: Configuration
    public let hub: ChatHub
    public let webSocketServer: WebSocketServer
    /// Socket.IO at `/socket.io/`, in the same rooms.
    public let socketIO: SocketIOServer
    private let store: HistoryStore

    private init(configuration: Configuration, store: HistoryStore, group: EventLoopGroup) {
        self.configuration = configuration
        self.store = store
        let hub = ChatHub(store: store, eventLoop: group.next(), settings: configuration.settings, logger: configuration.logger)
        self.hub = hub
        var serverConfiguration = configuration.server
        serverConfiguration.logger = configuration.logger
        serverConfiguration.httpHandler = ChatPage.handler
        // The chat's own WebSockets take frames up to what its longest message can be on the
        // wire (a JSON command with every character escaped); larger ones close with 1009 at
        // the frame header instead of being read, decoded and refused afterwards.
        var chatWebSocket = serverConfiguration.webSocket
        chatWebSocket.maxMessageSize = configuration.settings.maxMessageLength * 12 + 1024
        let chatRoute = WebSocketRoute(configuration: chatWebSocket)
        let previousUpgrade = serverConfiguration.shouldUpgrade
        serverConfiguration.shouldUpgrade = { head, address in
            switch previousUpgrade?(head, address) ?? .accept() {
            case .accept(let headers, let route): .accept(headers: headers, route: route ?? chatRoute)
            case .reject(let error): .reject(error)
            }
        }
        // Pages of other origins that the server allows may use the polling transport too.
        var ioOptions = SocketIOServerOptions()
        ioOptions.engine.logger = configuration.logger
        switch serverConfiguration.allowedOrigins {
        case .any: ioOptions.engine.cors = EngineIOCORSOptions(origin: .any)
        case .sameOrigin(let listed) where !listed.isEmpty: ioOptions.engine.cors = EngineIOCORSOptions(origin: .list(listed))
        case .sameOrigin: break
        }
        let io = SocketIOServer(options: ioOptions)
        io.mount(into: &serverConfiguration)
        SocketIOChatBridge.attach(io, to: hub)
        self.socketIO = io
        self.webSocketServer = WebSocketServer(configuration: serverConfiguration, group: group) { connection in
            if io.accept(connection) { return }
            let member = hub.join(.webSocket(connection), room: connection.query["room"], name: connection.query["name"])
            connection.onText { text in hub.receive(text, from: member) }
            connection.onBinary { _ in hub.refuse(.badCommand("binary frames are not accepted; send text"), to: member) }
            connection.onClose { _ in hub.leave(member) }
        }
    }

    /// Opens the store and the server; returns the bound port.
    public static func start(_ configuration: Configuration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> (ChatServer, Int) {
        let server = try await open(configuration, group: group)
        do {
            let port = try await server.webSocketServer.listen(port: configuration.port, host: configuration.host)
            return (server, port)
        } catch {
            try? await server.store.close().get()  // an open store must be closed, whatever failed
            throw error
        }
    }

    /// Opens the store and makes the server without listening: for hosting its
    /// `webSocketServer` (the page and the chat's WebSockets) in another framework's app.
    public static func open(_ configuration: Configuration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> ChatServer {
        let store: HistoryStore
        switch configuration.storage {
        case .memory: store = MemoryHistoryStore(eventLoop: group.next())
        case .sqlite(let path): store = try await SQLiteHistoryStore.open(path: path, logger: configuration.logger)
        }
        return ChatServer(configuration: configuration, store: store, group: group)
    }

    /// Waits until the server is closed.
    public func run() async throws {
        try await webSocketServer.run()
    }

    /// Graceful shutdown: clients get close 1001, pending messages are stored, the store
    /// is flushed and closed.
    public func shutdown() async {
        await socketIO.close()
        await webSocketServer.close()
        try? await hub.drain().get()
        try? await store.close().get()
    }
}

/// The chat page, package resources served at `/`, `/chat.js` and `/chat.css`.
enum ChatPage {
    static let html = resource("index", "html")
    static let script = resource("chat", "js")
    static let style = resource("chat", "css")

    private static func resource(_ name: String, _ type: String) -> ByteBuffer {
        guard let url = Bundle.module.url(forResource: name, withExtension: type), let data = try? Data(contentsOf: url) else {
            return ByteBuffer(string: type == "html" ? "<!doctype html><title>Duplex chat</title><p>The page resource is missing from this build." : "")
        }
        return ByteBuffer(bytes: data)
    }

    /// The page runs only its own script and style, talks only to its own server, and may
    /// not be framed by another site (clickjacking).
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    private static func asset(_ body: ByteBuffer, type: String) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: [
            "Content-Type": type,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": contentSecurityPolicy,
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        ], body: body)
    }

    @Sendable
    static func handler(_ request: HTTPRequest) -> EventLoopFuture<HTTPResponse> {
        let response: HTTPResponse
        switch (request.method, request.path) {
        case (.GET, "/"), (.GET, "/index.html"), (.HEAD, "/"):
            response = asset(html, type: "text/html; charset=utf-8")
        case (.GET, "/chat.js"):
            response = asset(script, type: "text/javascript; charset=utf-8")
        case (.GET, "/chat.css"):
            response = asset(style, type: "text/css; charset=utf-8")
        case (.GET, "/healthz"):
            response = HTTPResponse(status: .ok, body: "ok\n")
        default:
            response = HTTPResponse(status: .notFound, body: "not found\n")
        }
        return request.eventLoop.makeSucceededFuture(response)
    }
}
