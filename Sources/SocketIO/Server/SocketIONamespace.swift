import NIOCore
import Synchronization

/// A middleware's refusal: the client gets CONNECT_ERROR `{"message":…,"data":…}`.
public struct SocketIOMiddlewareError: Error, Sendable, Equatable {
    public var message: String
    public var data: JSONValue?

    public init(_ message: String, data: JSONValue? = nil) {
        self.message = message
        self.data = data
    }
}

/// A namespace middleware: runs for each connecting socket before it is connected; throw
/// (``SocketIOMiddlewareError`` for a message and data) to refuse it.
public enum SocketIOMiddleware: Sendable {
    /// Runs on the socket's event loop.
    case sync(@Sendable (SocketIOSocket) throws -> Void)
    /// Runs in a Task (for checks that await: a database, a token service).
    case async(@Sendable (SocketIOSocket) async throws -> Void)
}

/// A namespace (`/`, `/chat`…): its sockets, middlewares, connection handlers and adapter.
public final class SocketIONamespace: Sendable {
    public let name: String
    public let adapter: any SocketIOAdapter
    let localSockets: SocketIOLocalSockets
    let parent: SocketIOParentNamespace?
    private let handlers = Mutex<(middlewares: [SocketIOMiddleware], connection: [@Sendable (SocketIOSocket) -> Void])>(([], []))
    private let ackIDs = SocketIOAckIDs()
    private let serverSideListeners = SocketIOServerSideListeners()
    /// Connection attempts under way (middlewares running); guarded by the server's
    /// namespace lock.
    nonisolated(unsafe) var connectsInFlight = 0

    init(name: String, adapterFactory: @Sendable (SocketIOAdapterContext) -> any SocketIOAdapter, parent: SocketIOParentNamespace? = nil) {
        self.name = name
        self.parent = parent
        let sockets = SocketIOLocalSockets()
        self.localSockets = sockets
        self.adapter = adapterFactory(SocketIOAdapterContext(namespace: name, sockets: sockets, ackIDs: ackIDs,
                                                             serverSideListeners: serverSideListeners))
    }

    func nextAckID() -> Int {
        ackIDs.next()
    }

    /// Adds a middleware that runs on the socket's loop.
    public func use(_ middleware: @escaping @Sendable (SocketIOSocket) throws -> Void) {
        handlers.withLock { $0.middlewares.append(.sync(middleware)) }
    }

    /// Adds a middleware that may await (runs in a Task).
    public func useAsync(_ middleware: @escaping @Sendable (SocketIOSocket) async throws -> Void) {
        handlers.withLock { $0.middlewares.append(.async(middleware)) }
    }

    /// Runs for each socket that connected (on its event loop), after the CONNECT answer.
    public func onConnection(_ handler: @escaping @Sendable (SocketIOSocket) -> Void) {
        handlers.withLock { $0.connection.append(handler) }
    }

    var middlewares: [SocketIOMiddleware] {
        (parent?.middlewares ?? []) + handlers.withLock { $0.middlewares }
    }

    var connectionHandlers: [@Sendable (SocketIOSocket) -> Void] {
        (parent?.connectionHandlers ?? []) + handlers.withLock { $0.connection }
    }

    /// The sockets connected to this namespace on this node.
    public var sockets: [SocketIOSocket] { localSockets.all }

    public func socket(id: String) -> SocketIOSocket? { localSockets.socket(id: id) }

    /// Runs the middlewares in order on the socket's loop; `done` gets the first refusal.
    func runMiddlewares(_ socket: SocketIOSocket, done: @escaping @Sendable (SocketIOMiddlewareError?) -> Void) {
        let chain = middlewares
        let engine = socket.client.engine
        @Sendable func step(_ index: Int) {
            guard index < chain.count else { return done(nil) }
            switch chain[index] {
            case .sync(let middleware):
                do {
                    try middleware(socket)
                    step(index + 1)
                } catch {
                    done(Self.refusal(error))
                }
            case .async(let middleware):
                Task {
                    do {
                        try await middleware(socket)
                        engine.run { _ in step(index + 1) }
                    } catch {
                        engine.run { _ in done(Self.refusal(error)) }
                    }
                }
            }
        }
        step(0)
    }

    private static func refusal(_ error: Error) -> SocketIOMiddlewareError {
        (error as? SocketIOMiddlewareError) ?? SocketIOMiddlewareError("\(error)")
    }

    // MARK: - Broadcasting

    var everyone: SocketIOBroadcastOperator { SocketIOBroadcastOperator(namespace: self) }

    public func to(_ rooms: String...) -> SocketIOBroadcastOperator { everyone.to(rooms) }
    public func `in`(_ rooms: String...) -> SocketIOBroadcastOperator { everyone.to(rooms) }
    public func except(_ rooms: String...) -> SocketIOBroadcastOperator { everyone.except(rooms) }
    public var volatile: SocketIOBroadcastOperator { everyone.volatile }
    public var local: SocketIOBroadcastOperator { everyone.local }
    public func timeout(_ timeout: TimeAmount) -> SocketIOBroadcastOperator { everyone.timeout(timeout) }

    /// Emits to every socket of the namespace.
    public func emit(_ name: String, _ arguments: JSONValue...) { everyone.emit(name, arguments: arguments) }
    public func emit(_ name: String, arguments: [JSONValue]) { everyone.emit(name, arguments: arguments) }
    public func emitWithAck(_ name: String, arguments: [JSONValue], timeout: TimeAmount) async throws -> [[JSONValue]] {
        try await everyone.timeout(timeout).emitWithAck(name, arguments: arguments)
    }

    public func fetchSockets() async throws -> [SocketIORemoteSocket] { try await everyone.fetchSockets() }
    public func socketsJoin(_ rooms: String...) { everyone.socketsJoin(rooms) }
    public func socketsLeave(_ rooms: String...) { everyone.socketsLeave(rooms) }
    public func disconnectSockets(close: Bool = false) { everyone.disconnectSockets(close: close) }

    // MARK: - Between servers

    /// How many servers share this namespace (1 with the in-memory adapter).
    public func serverCount() async -> Int { await adapter.serverCount() }

    /// Sends an event to this namespace's server-side listeners (``onServerSideEmit(_:_:)``)
    /// on the other servers of the cluster; not to clients, not to this server.
    public func serverSideEmit(_ name: String, _ arguments: JSONValue...) {
        serverSideEmit(name, arguments: arguments)
    }

    public func serverSideEmit(_ name: String, arguments: [JSONValue]) {
        adapter.serverSideEmit([.string(name)] + arguments)
    }

    /// Like ``serverSideEmit(_:arguments:)``, and returns one answer per other server.
    /// Throws ``SocketIOClusterError/timeout(missing:responses:)`` when some do not answer
    /// within `timeout`.
    public func serverSideEmitWithAck(_ name: String, arguments: [JSONValue],
                                      timeout: TimeAmount = SocketIOBroadcastOptions.defaultAckTimeout) async throws -> [JSONValue] {
        try await adapter.serverSideEmitWithAck([.string(name)] + arguments, timeout: timeout)
    }

    /// Handles the event `name` that another server sent with `serverSideEmit`.
    public func onServerSideEmit(_ name: String, _ handler: @escaping @Sendable (SocketIOServerSideEvent) -> Void) {
        serverSideListeners.add(name, handler)
    }
}

/// A family of namespaces created on demand: the first client that connects to a
/// matching name creates it. Its middlewares and connection handlers apply to every
/// child; its broadcasts reach every child.
public final class SocketIOParentNamespace: Sendable {
    let matcher: @Sendable (String, JSONObject) -> Bool
    private let handlers = Mutex<(middlewares: [SocketIOMiddleware], connection: [@Sendable (SocketIOSocket) -> Void])>(([], []))
    private let childrenBox = Mutex<[String: SocketIONamespace]>([:])

    init(matcher: @escaping @Sendable (String, JSONObject) -> Bool) {
        self.matcher = matcher
    }

    public func use(_ middleware: @escaping @Sendable (SocketIOSocket) throws -> Void) {
        handlers.withLock { $0.middlewares.append(.sync(middleware)) }
    }

    public func useAsync(_ middleware: @escaping @Sendable (SocketIOSocket) async throws -> Void) {
        handlers.withLock { $0.middlewares.append(.async(middleware)) }
    }

    public func onConnection(_ handler: @escaping @Sendable (SocketIOSocket) -> Void) {
        handlers.withLock { $0.connection.append(handler) }
    }

    var middlewares: [SocketIOMiddleware] { handlers.withLock { $0.middlewares } }
    var connectionHandlers: [@Sendable (SocketIOSocket) -> Void] { handlers.withLock { $0.connection } }

    /// The namespaces created so far.
    public var children: [SocketIONamespace] { childrenBox.withLock { Array($0.values) } }

    func add(_ child: SocketIONamespace) {
        childrenBox.withLock { $0[child.name] = child }
    }

    func remove(_ child: SocketIONamespace) {
        childrenBox.withLock { children in
            if children[child.name] === child { children[child.name] = nil }
        }
    }

    /// Emits to every socket of every child.
    public func emit(_ name: String, _ arguments: JSONValue...) {
        for child in children { child.emit(name, arguments: arguments) }
    }
}
