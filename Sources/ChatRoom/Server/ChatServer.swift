import Duplex
import Foundation
import SocketIO
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import ServiceLifecycle

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
        /// The WebSocket server's settings; the listen backlog is raised to 4096 (the
        /// kernel's usual cap): a storm of joiners must queue, not be reset.
        public var server: WebSocketServer.Configuration = {
            var server = WebSocketServer.Configuration()
            server.backlog = 4096
            return server
        }()
        public var logger = Logger(label: "duplex.chat")
        /// When set, `GET /metrics` answers with what it returns (Prometheus' text format:
        /// `duplex chat --metrics`). Off by default: metrics tell strangers about the server.
        public var metricsPage: (@Sendable () -> ByteBuffer)?
        public init() {}
    }

    public let configuration: Configuration
    public let hub: ChatHub
    public let webSocketServer: WebSocketServer
    /// Socket.IO at `/socket.io/`, in the same rooms.
    public let socketIO: SocketIOServer
    private let store: ChatStore
    private let closing = Mutex(false)
    private let closed: EventLoopPromise<Void>

    /// Opens the history store (the SQLite file is created when missing); ``listen()`` then
    /// serves. The server has the shape of every Duplex server: create, `listen`, `run`,
    /// `close`.
    public convenience init(configuration: Configuration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let store: ChatStore
        switch configuration.storage {
        case .memory: store = MemoryHistoryStore(eventLoop: group.next())
        case .sqlite(let path): store = try await SQLiteHistoryStore.open(path: path, logger: configuration.logger)
        }
        self.init(configuration: configuration, store: store, group: group)
    }

    /// A server on a store opened by the caller (a store shared by several servers:
    /// ChatRoomPostgres); `configuration.storage` is not used. ``close()`` closes the store.
    public init(configuration: Configuration, store: ChatStore, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.store = store
        self.closed = group.next().makePromise(of: Void.self)
        let hub = ChatHub(store: store, eventLoop: group.next(), settings: configuration.settings, logger: configuration.logger)
        self.hub = hub
        var serverConfiguration = configuration.server
        serverConfiguration.logger = configuration.logger
        if let metricsPage = configuration.metricsPage {
            serverConfiguration.httpHandler = { request in
                guard request.method == .GET, request.path == "/metrics" else { return ChatPage.handler(request) }
                return request.eventLoop.makeSucceededFuture(HTTPResponse(status: .ok, headers: [
                    "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-store",
                ], body: metricsPage()))
            }
        } else {
            serverConfiguration.httpHandler = ChatPage.handler
        }
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
            let member = hub.join(.webSocket(connection), room: connection.query["room"], name: connection.query["name"],
                                  token: connection.query["token"])
            connection.onText { text in hub.receive(text, from: member) }
            connection.onBinary { _ in hub.refuse(.badCommand("binary frames are not accepted; send text"), to: member) }
            connection.onClose { _ in hub.leave(member) }
        }
    }

    /// Listens on the configured host and port; returns the bound port (the configured
    /// port 0 picks a free one).
    @discardableResult
    public func listen() async throws -> Int {
        try await webSocketServer.listen(port: configuration.port, host: configuration.host)
    }

    /// Waits until ``close()`` has finished (the way to keep a program serving). In a
    /// `ServiceGroup` (the server is a `Service`), graceful shutdown (SIGTERM) or
    /// cancellation closes it first.
    public func run() async throws {
        try await runUntilClosed(closed.futureResult) { [self] in await close() }
    }

    /// Graceful shutdown: Socket.IO first (held polls are answered with a close packet),
    /// then the WebSockets get close 1001; pending messages are stored, the store is
    /// flushed and closed. A second call waits for the first.
    public func close() async {
        let alreadyClosing = closing.withLock { closing in
            defer { closing = true }
            return closing
        }
        guard !alreadyClosing else {
            try? await closed.futureResult.get()
            return
        }
        // Members leave all at once: no announcements to those still closing.
        try? await hub.close().get()
        await socketIO.close()
        await webSocketServer.close()
        try? await hub.drain().get()
        try? await store.close().get()
        closed.succeed(())
    }

    /// Opens the store and the server; returns the bound port.
    @available(*, deprecated, message: "create with init(configuration:), then listen()")
    public static func start(_ configuration: Configuration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> (ChatServer, Int) {
        let server = try await ChatServer(configuration: configuration, group: group)
        do {
            return (server, try await server.listen())
        } catch {
            await server.close()  // an open store must be closed, whatever failed
            throw error
        }
    }

    @available(*, deprecated, renamed: "close()")
    public func shutdown() async {
        await close()
    }

    deinit {
        closed.succeed(())  // a server never closed still owns the promise
    }
}

extension ChatServer: Service {}
