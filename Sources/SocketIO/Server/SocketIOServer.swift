import Duplex
import NIOCore
import NIOHTTP1
import Synchronization

/// The options of a Socket.IO server.
public struct SocketIOServerOptions: Sendable {
    /// The Engine.IO options; the path defaults to `/socket.io/`.
    public var engine: EngineIOOptions
    /// A connection that has joined no namespace this long after its handshake is closed.
    public var connectTimeout: TimeAmount = .seconds(45)
    /// Makes each namespace's adapter (the in-memory adapter by default).
    public var adapter: @Sendable (SocketIOAdapterContext) -> any SocketIOAdapter = { InMemoryAdapter(context: $0) }

    public init() {
        engine = EngineIOOptions()
        engine.path = "/socket.io/"
    }

    public var path: String {
        get { engine.path }
        set { engine.path = newValue }
    }
}

/// A Socket.IO v5 server over Engine.IO v4.
///
/// ```swift
/// let io = SocketIOServer()
/// io.onConnection { socket in
///     socket.join("lobby")
///     socket.on("chat message") { event in
///         io.to("lobby").emit("chat message", arguments: event.arguments)
///     }
/// }
/// try await io.listen(port: 3000)
/// ```
///
/// To serve it next to other WebSocket handlers on one port: ``mount(into:)`` on the
/// server's configuration, and ``accept(_:)`` in its connection handler.
public final class SocketIOServer: Sendable {
    public let options: SocketIOServerOptions
    /// The Engine.IO server underneath.
    public let engine: EngineIOServer
    private let namespaces = Mutex<[String: SocketIONamespace]>([:])
    private let parents = Mutex<[SocketIOParentNamespace]>([])
    private let clients = Mutex<[ObjectIdentifier: SocketIOClient]>([:])

    public init(options: SocketIOServerOptions = SocketIOServerOptions()) {
        self.options = options
        let box = ServerBox()
        self.engine = EngineIOServer(options: options.engine) { session in
            box.server?.connected(session)
        }
        box.server = self
        _ = of("/")
    }

    private func connected(_ session: EngineIOSocket) {
        let client = SocketIOClient(engine: session, server: self)
        let key = ObjectIdentifier(client)
        clients.withLock { $0[key] = client }
        session.onClose { [self] _ in _ = clients.withLock { $0.removeValue(forKey: key) } }
        client.start()
    }

    // MARK: - Namespaces

    /// The main namespace `/`.
    public var sockets: SocketIONamespace { of("/") }

    /// The namespace `name`, created when new.
    public func of(_ name: String) -> SocketIONamespace {
        let name = name.hasPrefix("/") ? name : "/" + name
        return namespaces.withLock { namespaces in
            if let existing = namespaces[name] { return existing }
            let namespace = SocketIONamespace(name: name, adapterFactory: options.adapter)
            namespaces[name] = namespace
            return namespace
        }
    }

    /// Dynamic namespaces: any name the predicate accepts (it gets the name and the
    /// client's auth payload) is created on its first connection.
    public func of(matching predicate: @escaping @Sendable (String, JSONObject) -> Bool) -> SocketIOParentNamespace {
        let parent = SocketIOParentNamespace(matcher: predicate)
        parents.withLock { $0.append(parent) }
        return parent
    }

    /// Dynamic namespaces whose whole name matches the regular expression, e.g.
    /// `^/room-\d+$`.
    public func of(regex pattern: String) throws -> SocketIOParentNamespace {
        _ = try Regex(pattern)
        return of(matching: { name, _ in
            guard let regex = try? Regex(pattern) else { return false }
            return (try? regex.wholeMatch(in: name)) != nil
        })
    }

    /// The namespace a CONNECT for `name` joins: an existing one, or a new child of the
    /// first dynamic namespace that accepts it; nil: `Invalid namespace`.
    func namespace(for name: String, auth: JSONObject) -> SocketIONamespace? {
        if let existing = namespaces.withLock({ $0[name] }) { return existing }
        for parent in parents.withLock({ $0 }) where parent.matcher(name, auth) {
            return namespaces.withLock { namespaces in
                if let existing = namespaces[name] { return existing }
                let child = SocketIONamespace(name: name, adapterFactory: options.adapter, parent: parent)
                namespaces[name] = child
                parent.add(child)
                return child
            }
        }
        return nil
    }

    // MARK: - The main namespace

    public func onConnection(_ handler: @escaping @Sendable (SocketIOSocket) -> Void) { sockets.onConnection(handler) }
    public func use(_ middleware: @escaping @Sendable (SocketIOSocket) throws -> Void) { sockets.use(middleware) }
    public func useAsync(_ middleware: @escaping @Sendable (SocketIOSocket) async throws -> Void) { sockets.useAsync(middleware) }
    public func emit(_ name: String, _ arguments: JSONValue...) { sockets.emit(name, arguments: arguments) }
    public func emit(_ name: String, arguments: [JSONValue]) { sockets.emit(name, arguments: arguments) }
    public func to(_ rooms: String...) -> SocketIOBroadcastOperator { sockets.everyone.to(rooms) }
    public func `in`(_ rooms: String...) -> SocketIOBroadcastOperator { sockets.everyone.to(rooms) }
    public func except(_ rooms: String...) -> SocketIOBroadcastOperator { sockets.everyone.except(rooms) }
    public var volatile: SocketIOBroadcastOperator { sockets.volatile }
    public var local: SocketIOBroadcastOperator { sockets.local }
    public func timeout(_ timeout: TimeAmount) -> SocketIOBroadcastOperator { sockets.timeout(timeout) }
    public func fetchSockets() async -> [SocketIORemoteSocket] { await sockets.fetchSockets() }
    public func socketsJoin(_ rooms: String...) { sockets.everyone.socketsJoin(rooms) }
    public func socketsLeave(_ rooms: String...) { sockets.everyone.socketsLeave(rooms) }
    public func disconnectSockets(close: Bool = false) { sockets.disconnectSockets(close: close) }

    // MARK: - Serving

    /// Mounts the server into a WebSocket server's configuration: requests on
    /// `options.path` are answered here, all others go to the handlers configured before.
    /// Then call ``accept(_:)`` from the WebSocket server's connection handler.
    public func mount(into configuration: inout WebSocketServer.Configuration) {
        engine.mount(into: &configuration)
    }

    /// Takes a new WebSocket when it is on this server's path; false otherwise.
    public func accept(_ connection: WebSocketConnection) -> Bool {
        engine.accept(connection)
    }

    /// Listens by itself. Returns the bound port.
    @discardableResult
    public func listen(port: Int = 3000, host: String = "127.0.0.1") async throws -> Int {
        try await engine.listen(port: port, host: host)
    }

    /// Disconnects every socket (reason `server shutting down`), closes the adapters and
    /// the connections (and the listener when listening by itself).
    public func close() async {
        for client in clients.withLock({ Array($0.values) }) {
            client.engine.run { _ in client.shutdown(reason: "server shutting down") }
        }
        for namespace in namespaces.withLock({ Array($0.values) }) { await namespace.adapter.close() }
        await engine.close()
    }
}

/// Lets the engine's connection handler reach the server it is created by (set once, in
/// the server's init, before any connection).
private final class ServerBox: @unchecked Sendable {
    var server: SocketIOServer?
}
