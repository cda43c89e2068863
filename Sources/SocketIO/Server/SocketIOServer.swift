import Duplex
import NIOCore
import NIOHTTP1
import Synchronization
import ServiceLifecycle
import CoreMetrics

/// The options of a Socket.IO server.
public struct SocketIOServerOptions: Sendable {
    /// The Engine.IO options; the path defaults to `/socket.io/`.
    public var engine: EngineIOOptions
    /// A connection that has joined no namespace this long after its handshake is closed.
    public var connectTimeout: TimeAmount = .seconds(45)
    /// Whether a dynamic namespace (a child of ``SocketIOServer/of(matching:)``) is removed
    /// once its last socket leaves (a later connection creates it anew). On by default, unlike
    /// the reference server (`cleanupEmptyChildNamespaces`, off there): otherwise every name a
    /// client ever tried would stay in memory for good.
    public var cleanupEmptyChildNamespaces = true
    /// The most dynamic namespaces that exist at once; a CONNECT that would create one more
    /// gets CONNECT_ERROR `Invalid namespace`. Not in the reference server.
    public var maxChildNamespaces = 10_000
    /// Makes each namespace's adapter (the in-memory adapter by default).
    public var adapter: @Sendable (SocketIOAdapterContext) -> any SocketIOAdapter = { InMemoryAdapter(context: $0) }
    /// Connection state recovery (off by default, as in the reference): a client whose
    /// connection broke gets its socket and the events it missed back when it reconnects in
    /// time. See ``SocketIOConnectionStateRecovery``.
    public var connectionStateRecovery: SocketIOConnectionStateRecovery?
    /// Where the server's metrics go (docs/metrics.md lists them); nil: the
    /// process-wide `MetricsSystem`.
    public var metricsFactory: (any MetricsFactory)?

    /// The defaults: path `/socket.io/`, the reference server's Engine.IO settings, a 45 s
    /// connect timeout and the in-memory adapter.
    public init() {
        engine = EngineIOOptions()
        engine.path = "/socket.io/"
    }

    /// The URL path the server answers on (`/socket.io/` by default, the clients' default
    /// too); the same as `engine.path`.
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
    /// The settings the server was created with.
    public let options: SocketIOServerOptions
    /// The Engine.IO server underneath: the sessions and transports, whatever namespaces
    /// they joined (``EngineIOServer/clientsCount`` counts connections, not sockets).
    public let engine: EngineIOServer
    /// The namespaces by name, and how many of them are dynamic (children).
    private let namespaces = Mutex<(byName: [String: SocketIONamespace], children: Int)>(([:], 0))
    private let parents = Mutex<[SocketIOParentNamespace]>([])
    private let clients = Mutex<[ObjectIdentifier: SocketIOConnection]>([:])

    private var metricsFactory: any MetricsFactory { options.metricsFactory ?? MetricsSystem.factory }

    /// A server with the main namespace `/`; it serves nothing until ``listen(port:host:)``
    /// or ``mount(into:)``.
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
        let client = SocketIOConnection(engine: session, server: self)
        let key = ObjectIdentifier(client)
        clients.withLock { $0[key] = client }
        session.observeClose { [self] _ in _ = clients.withLock { $0.removeValue(forKey: key) } }
        client.start()
    }

    // MARK: - Namespaces

    /// The main namespace `/`, which every client joins by default; the server's own
    /// `emit`, `to`, `use`... act on it.
    public var sockets: SocketIONamespace { of("/") }

    /// The namespace `name`, created when new.
    public func of(_ name: String) -> SocketIONamespace {
        let name = name.hasPrefix("/") ? name : "/" + name
        return namespaces.withLock { namespaces in
            if let existing = namespaces.byName[name] { return existing }
            let namespace = SocketIONamespace(name: name, adapterFactory: options.adapter, metricsFactory: metricsFactory,
                                              recovery: options.connectionStateRecovery)
            namespaces.byName[name] = namespace
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
    /// first dynamic namespace that accepts it; nil: `Invalid namespace`. A namespace
    /// returned counts the connection attempt until ``connectFinished(_:)`` (so that it is
    /// not removed as empty meanwhile).
    func namespace(for name: String, auth: JSONObject) -> SocketIONamespace? {
        if let existing = namespaces.withLock({ namespaces in
            let existing = namespaces.byName[name]
            existing?.connectsInFlight += 1
            return existing
        }) {
            return existing
        }
        for parent in parents.withLock({ $0 }) where parent.matcher(name, auth) {
            return namespaces.withLock { namespaces in
                if let existing = namespaces.byName[name] {
                    existing.connectsInFlight += 1
                    return existing
                }
                guard namespaces.children < options.maxChildNamespaces else { return nil }
                let child = SocketIONamespace(name: name, adapterFactory: options.adapter, metricsFactory: metricsFactory,
                                              recovery: options.connectionStateRecovery, parent: parent)
                child.connectsInFlight = 1
                namespaces.byName[name] = child
                namespaces.children += 1
                parent.add(child)
                return child
            }
        }
        return nil
    }

    /// A connection attempt that ``namespace(for:auth:)`` counted is over (connected or
    /// refused).
    func connectFinished(_ namespace: SocketIONamespace) {
        namespaces.withLock { namespaces in
            namespace.connectsInFlight -= 1
            removeIfUnused(namespace, from: &namespaces)
        }
    }

    /// A socket left `namespace`: a dynamic one with no socket left goes away.
    func socketLeft(_ namespace: SocketIONamespace) {
        guard namespace.parent != nil, options.cleanupEmptyChildNamespaces else { return }
        namespaces.withLock { removeIfUnused(namespace, from: &$0) }
    }

    /// Under the lock, so that a connection attempt cannot pick the namespace meanwhile.
    private func removeIfUnused(_ namespace: SocketIONamespace,
                                from namespaces: inout (byName: [String: SocketIONamespace], children: Int)) {
        guard let parent = namespace.parent, options.cleanupEmptyChildNamespaces,
              namespace.connectsInFlight == 0, namespace.localSockets.count == 0,
              namespaces.byName[namespace.name] === namespace
        else { return }
        namespaces.byName[namespace.name] = nil
        namespaces.children -= 1
        parent.remove(namespace)
        // As the reference does: a cluster adapter says goodbye and stops its timers.
        let adapter = namespace.adapter
        Task { await adapter.close() }
    }

    /// The number of namespaces that exist now (static and dynamic).
    public var namespaceCount: Int { namespaces.withLock { $0.byName.count } }

    // MARK: - The main namespace

    /// Adds a handler for sockets connecting to the main namespace (see
    /// ``SocketIONamespace/onConnection(_:)``).
    public func onConnection(_ handler: @escaping @Sendable (SocketIOSocket) -> Void) { sockets.onConnection(handler) }
    /// Adds a middleware to the main namespace: it runs on the socket's loop before the
    /// socket connects; throwing refuses it (``SocketIOMiddlewareError`` for the message).
    public func use(_ middleware: @escaping @Sendable (SocketIOSocket) throws -> Void) { sockets.use(middleware) }
    /// Adds a middleware to the main namespace that may await (it runs in a Task).
    public func useAsync(_ middleware: @escaping @Sendable (SocketIOSocket) async throws -> Void) { sockets.useAsync(middleware) }
    /// Sends the event to every socket of the main namespace, encoded once.
    public func emit(_ name: String, _ arguments: JSONValue...) { sockets.emit(name, arguments: arguments) }
    /// Sends the event to every socket of the main namespace, encoded once.
    public func emit(_ name: String, arguments: [JSONValue]) { sockets.emit(name, arguments: arguments) }
    /// The sockets of the main namespace in these rooms; chain more operators, then `emit`.
    public func to(_ rooms: String...) -> SocketIOBroadcastOperator { sockets.everyone.to(rooms) }
    /// The same as ``to(_:)``.
    public func `in`(_ rooms: String...) -> SocketIOBroadcastOperator { sockets.everyone.to(rooms) }
    /// Every socket of the main namespace but those in these rooms.
    public func except(_ rooms: String...) -> SocketIOBroadcastOperator { sockets.everyone.except(rooms) }
    /// Every socket of the main namespace, skipping clients that cannot take the packet now.
    public var volatile: SocketIOBroadcastOperator { sockets.volatile }
    /// Every socket of the main namespace on this node only.
    public var local: SocketIOBroadcastOperator { sockets.local }
    /// Every socket of the main namespace, compressed or not where permessage-deflate is on.
    public func compress(_ compress: Bool) -> SocketIOBroadcastOperator { sockets.compress(compress) }
    /// Every socket of the main namespace, with this timeout for `emitWithAck`.
    public func timeout(_ timeout: TimeAmount) -> SocketIOBroadcastOperator { sockets.timeout(timeout) }
    /// Snapshots of every socket of the main namespace, on every node; throws when other
    /// nodes do not answer in time (``SocketIOClusterError``).
    public func fetchSockets() async throws -> [SocketIORemoteSocket] { try await sockets.fetchSockets() }
    /// How many servers share the main namespace (1 with the in-memory adapter).
    public func serverCount() async -> Int { await sockets.serverCount() }
    /// Sends an event to the server-side listeners of the other servers (not to clients).
    public func serverSideEmit(_ name: String, _ arguments: JSONValue...) { sockets.serverSideEmit(name, arguments: arguments) }
    /// Sends an event to the server-side listeners of the other servers (not to clients).
    public func serverSideEmit(_ name: String, arguments: [JSONValue]) { sockets.serverSideEmit(name, arguments: arguments) }
    /// Like ``serverSideEmit(_:arguments:)``, and returns one answer per other server.
    public func serverSideEmitWithAck(_ name: String, arguments: [JSONValue],
                                      timeout: TimeAmount = SocketIOBroadcastOptions.defaultAckTimeout) async throws -> [JSONValue] {
        try await sockets.serverSideEmitWithAck(name, arguments: arguments, timeout: timeout)
    }
    /// Handles an event another server sent with `serverSideEmit`.
    public func onServerSideEmit(_ name: String, _ handler: @escaping @Sendable (SocketIOServerSideEvent) -> Void) {
        sockets.onServerSideEmit(name, handler)
    }
    /// Makes every socket of the main namespace join these rooms.
    public func socketsJoin(_ rooms: String...) { sockets.everyone.socketsJoin(rooms) }
    /// Makes every socket of the main namespace leave these rooms.
    public func socketsLeave(_ rooms: String...) { sockets.everyone.socketsLeave(rooms) }
    /// Disconnects every socket of the main namespace; with `close`, their whole connections.
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

    /// Waits until ``close()`` has finished: `listen`, then `run` keeps a program serving.
    /// In a `ServiceGroup` (the server is a `Service`), graceful shutdown (SIGTERM) or
    /// cancellation closes it first: every socket is disconnected with the reference reason
    /// `server shutting down`.
    public func run() async throws {
        try await runUntilClosed(engine.closedFuture) { [self] in await close() }
    }

    /// Disconnects every socket (reason `server shutting down`), closes the adapters and
    /// the connections (and the listener when listening by itself).
    public func close() async {
        for client in clients.withLock({ Array($0.values) }) {
            client.engine.run { _ in client.shutdown(reason: .serverShuttingDown) }
        }
        for namespace in namespaces.withLock({ Array($0.byName.values) }) { await namespace.adapter.close() }
        await engine.close()
    }
}

/// Lets the engine's connection handler reach the server it is created by (set once, in
/// the server's init, before any connection).
private final class ServerBox: @unchecked Sendable {
    var server: SocketIOServer?
}

extension SocketIOServer: Service {}
