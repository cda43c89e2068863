import NIOCore
import Synchronization
import CoreMetrics

/// A namespace (`/`, `/chat`…): its sockets, middlewares, connection handlers and adapter.
public final class SocketIONamespace: Sendable {
    public let name: String
    public let adapter: any SocketIOAdapter
    let localSockets: SocketIOLocalSockets
    let parent: SocketIOParentNamespace?
    private let handlers = Mutex<(middlewares: [SocketIOMiddleware], connection: [@Sendable (SocketIOSocket) -> Void])>(([], []))
    private let ackIDs = Atomic<Int>(0)
    /// Connection attempts under way (middlewares running); guarded by the server's
    /// namespace lock.
    nonisolated(unsafe) var connectsInFlight = 0

    /// Sockets, events, acks and rooms (swift-metrics).
    let metrics: SocketIONamespaceMetrics

    init(name: String, adapterFactory: @Sendable (SocketIOAdapterContext) -> any SocketIOAdapter,
         metricsFactory: any MetricsFactory = MetricsSystem.factory, parent: SocketIOParentNamespace? = nil) {
        self.name = name
        self.parent = parent
        let sockets = SocketIOLocalSockets()
        self.localSockets = sockets
        let metrics = SocketIONamespaceMetrics(namespace: name, factory: metricsFactory)
        self.metrics = metrics
        self.adapter = adapterFactory(SocketIOAdapterContext(namespace: name, sockets: sockets, metrics: metrics))
    }

    func nextAckID() -> Int {
        ackIDs.wrappingAdd(1, ordering: .relaxed).oldValue
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

    public func fetchSockets() async -> [SocketIORemoteSocket] { await everyone.fetchSockets() }
    public func socketsJoin(_ rooms: String...) { everyone.socketsJoin(rooms) }
    public func socketsLeave(_ rooms: String...) { everyone.socketsLeave(rooms) }
    public func disconnectSockets(close: Bool = false) { everyone.disconnectSockets(close: close) }
}

