import NIOCore
import Synchronization

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

    /// Adds a middleware that runs for every connection to every child, before the child's own.
    public func use(_ middleware: @escaping @Sendable (SocketIOSocket) throws -> Void) {
        handlers.withLock { $0.middlewares.append(.sync(middleware)) }
    }

    /// Adds a middleware that awaits (runs in a Task), for every child.
    public func useAsync(_ middleware: @escaping @Sendable (SocketIOSocket) async throws -> Void) {
        handlers.withLock { $0.middlewares.append(.async(middleware)) }
    }

    /// Adds a handler for sockets connecting to any child (on the socket's event loop).
    public func onConnection(_ handler: @escaping @Sendable (SocketIOSocket) -> Void) {
        handlers.withLock { $0.connection.append(handler) }
    }

    var middlewares: [SocketIOMiddleware] { handlers.withLock { $0.middlewares } }
    var connectionHandlers: [@Sendable (SocketIOSocket) -> Void] { handlers.withLock { $0.connection } }

    /// The dynamic namespaces that exist now (empty ones are removed when
    /// ``SocketIOServerOptions/cleanupEmptyChildNamespaces`` is on).
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
