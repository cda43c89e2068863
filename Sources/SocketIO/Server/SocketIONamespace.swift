import NIOCore
import Synchronization
import CoreMetrics

/// A namespace (`/`, `/chat`…): its sockets, middlewares, connection handlers and adapter.
public final class SocketIONamespace: Sendable {
    /// The namespace name with its leading slash, e.g. `/` or `/admin`.
    public let name: String
    /// Where the namespace's rooms live and its broadcasts go (one adapter per namespace).
    public let adapter: any SocketIOAdapter
    let localSockets: SocketIOLocalSockets
    let parent: SocketIOParentNamespace?
    private let handlers = Mutex<(middlewares: [SocketIOMiddleware], connection: [@Sendable (SocketIOSocket) -> Void])>(([], []))
    private let ackIDs = SocketIOAckIDs()
    private let serverSideListeners = SocketIOServerSideListeners()
    /// Connection attempts under way (middlewares running); guarded by the server's
    /// namespace lock.
    nonisolated(unsafe) var connectsInFlight = 0

    /// Sockets, events, acks and rooms (swift-metrics).
    let metrics: SocketIONamespaceMetrics

    init(name: String, adapterFactory: @Sendable (SocketIOAdapterContext) -> any SocketIOAdapter,
         metricsFactory: any MetricsFactory = MetricsSystem.factory, recovery: SocketIOConnectionStateRecovery? = nil,
         parent: SocketIOParentNamespace? = nil) {
        self.name = name
        self.parent = parent
        let sockets = SocketIOLocalSockets()
        self.localSockets = sockets
        let metrics = SocketIONamespaceMetrics(namespace: name, factory: metricsFactory)
        self.metrics = metrics
        self.adapter = adapterFactory(SocketIOAdapterContext(namespace: name, sockets: sockets, ackIDs: ackIDs,
                                                             serverSideListeners: serverSideListeners, metrics: metrics,
                                                             recovery: recovery))
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

    /// Runs for each socket that connected (on its event loop), before the client gets the
    /// CONNECT answer: rooms it joins and events it emits apply from the socket's first moment.
    /// Adds a handler; earlier ones still run, in order.
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

    /// The connected socket with this id on this node, or nil.
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

    /// The sockets in these rooms (all of them, the caller is not excluded).
    public func to(_ rooms: String...) -> SocketIOBroadcastOperator { everyone.to(rooms) }
    /// The same as ``to(_:)``.
    public func `in`(_ rooms: String...) -> SocketIOBroadcastOperator { everyone.to(rooms) }
    /// Every socket of the namespace but those in these rooms.
    public func except(_ rooms: String...) -> SocketIOBroadcastOperator { everyone.except(rooms) }
    /// Every socket, skipping clients that cannot take the packet right now (for updates
    /// that the next one replaces).
    public var volatile: SocketIOBroadcastOperator { everyone.volatile }
    /// Every socket on this node only (with a multi-node adapter).
    public var local: SocketIOBroadcastOperator { everyone.local }
    /// Every socket, compressed or not where permessage-deflate is on.
    public func compress(_ compress: Bool) -> SocketIOBroadcastOperator { everyone.compress(compress) }
    /// Every socket, with this acknowledgement timeout for `emitWithAck`.
    public func timeout(_ timeout: TimeAmount) -> SocketIOBroadcastOperator { everyone.timeout(timeout) }

    /// Emits to every socket of the namespace.
    public func emit(_ name: String, _ arguments: JSONValue...) { everyone.emit(name, arguments: arguments) }
    /// Sends the event to every socket of the namespace, encoded once.
    public func emit(_ name: String, arguments: [JSONValue]) { everyone.emit(name, arguments: arguments) }
    /// Sends the event to every socket and waits up to `timeout` for all their answers (one
    /// array of arguments per socket); throws ``SocketIOAckError/timeout(responses:)`` with the
    /// answers that came when some are missing.
    public func emitWithAck(_ name: String, arguments: [JSONValue], timeout: TimeAmount) async throws -> [[JSONValue]] {
        try await everyone.timeout(timeout).emitWithAck(name, arguments: arguments)
    }

    /// Snapshots of every socket of the namespace, on every node; throws when other nodes
    /// do not answer in time (``SocketIOClusterError``).
    public func fetchSockets() async throws -> [SocketIORemoteSocket] { try await everyone.fetchSockets() }
    /// Makes every socket of the namespace join these rooms.
    public func socketsJoin(_ rooms: String...) { everyone.socketsJoin(rooms) }
    /// Makes every socket of the namespace leave these rooms.
    public func socketsLeave(_ rooms: String...) { everyone.socketsLeave(rooms) }
    /// Disconnects every socket from the namespace; with `close`, their whole connections.
    public func disconnectSockets(close: Bool = false) { everyone.disconnectSockets(close: close) }

    // MARK: - Between servers

    /// How many servers share this namespace (1 with the in-memory adapter).
    public func serverCount() async -> Int { await adapter.serverCount() }

    /// Sends an event to this namespace's server-side listeners (``onServerSideEmit(_:_:)``)
    /// on the other servers of the cluster; not to clients, not to this server.
    public func serverSideEmit(_ name: String, _ arguments: JSONValue...) {
        serverSideEmit(name, arguments: arguments)
    }

    /// Sends an event to the server-side listeners of the other servers (not to clients).
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

