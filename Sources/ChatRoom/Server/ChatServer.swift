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
        let io = SocketIOServer()
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
        let store: HistoryStore
        switch configuration.storage {
        case .memory: store = MemoryHistoryStore(eventLoop: group.next())
        case .sqlite(let path): store = try await SQLiteHistoryStore.open(path: path, logger: configuration.logger)
        }
        let server = ChatServer(configuration: configuration, store: store, group: group)
        let port = try await server.webSocketServer.listen(port: configuration.port, host: configuration.host)
        return (server, port)
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

/// The chat page, a package resource served at `/`.
enum ChatPage {
    static let html: ByteBuffer = {
        guard let url = Bundle.module.url(forResource: "index", withExtension: "html"),
              let data = try? Data(contentsOf: url)
        else { return ByteBuffer(string: "<!doctype html><title>Duplex chat</title><p>The page resource is missing from this build.") }
        return ByteBuffer(bytes: data)
    }()

    @Sendable
    static func handler(_ request: HTTPRequest) -> EventLoopFuture<HTTPResponse> {
        let response: HTTPResponse
        switch (request.method, request.path) {
        case (.GET, "/"), (.GET, "/index.html"), (.HEAD, "/"):
            response = HTTPResponse(status: .ok, headers: [
                "Content-Type": "text/html; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
            ], body: html)
        case (.GET, "/healthz"):
            response = HTTPResponse(status: .ok, body: "ok\n")
        default:
            response = HTTPResponse(status: .notFound, body: "not found\n")
        }
        return request.eventLoop.makeSucceededFuture(response)
    }
}
