import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
#if TLS
import NIOSSL
#endif
import Synchronization
import ServiceLifecycle
import CoreMetrics

/// A WebSocket server, as easy as Node's nodejs-websocket:
///
/// ```swift
/// let server = WebSocketServer { connection in
///     connection.onText { text in connection.send(text.uppercased()) }
/// }
/// try await server.listen(port: 8001)
/// try await server.run()
/// ```
public final class WebSocketServer: Sendable {
    /// Everything a server can be told: per-connection limits, server-wide bounds, hooks for
    /// the handshake and plain HTTP, TLS, logging and metrics. The defaults are safe for the
    /// open internet.
    public struct Configuration: Sendable {
        /// Limits and timeouts of each WebSocket connection.
        public var webSocket = WebSocketConfiguration()
        /// Time allowed to send a complete request (slowloris protection); also the
        /// keep-alive idle limit of plain HTTP connections.
        public var handshakeTimeout: TimeAmount = .seconds(10)
        /// Most simultaneous WebSocket connections; more are refused with 503.
        public var maxConnections = 100_000
        /// Largest body of a plain HTTP request; larger ones get 413.
        public var maxRequestBodySize = 1024 * 1024
        /// Decides about each valid handshake: accept (with extra response headers) or
        /// reject with a status of your choice (authentication, origin checks, routing).
        public var shouldUpgrade: (@Sendable (HTTPRequestHead, SocketAddress?) -> UpgradeDecision)?
        /// Picks one of the subprotocols the client offers (in its order), or nil for none.
        public var selectSubprotocol: (@Sendable ([String], HTTPRequestHead) -> String?)?
        /// Answers plain HTTP requests (pages, long polling). Without it they get 426.
        public var httpHandler: (@Sendable (HTTPRequest) -> EventLoopFuture<HTTPResponse>)?
        /// Where the server logs refused handshakes, budget refusals and failures (label `duplex`).
        public var logger = Logger(label: "duplex")
        /// Which web pages may open WebSockets and send requests (the `Origin` header):
        /// by default the server's own pages only. Requests without `Origin` (non-browser
        /// clients) always pass. See ``OriginPolicy``.
        public var allowedOrigins: OriginPolicy = .sameOrigin()
        /// Host names accepted in the `Host` header besides loopback names, when the server
        /// listens on a loopback address (DNS rebinding protection: a page on a hostile name
        /// that resolves to 127.0.0.1 is refused with 403). Ignored on other addresses.
        public var allowedHosts: [String] = []
        /// A server-wide bound, in bytes, on what connections hold for peers: unfinished
        /// messages, request bodies being read, and outbound data beyond a connection's
        /// high-water mark. A connection whose growth would pass it is refused (WebSocket
        /// close 1013, HTTP 503) and a warning is logged. nil: no global bound (each
        /// connection still has its own limits).
        public var memoryBudget: Int? = 1024 * 1024 * 1024
        /// How many connections the kernel may queue before the server accepts them (the
        /// `listen(2)` backlog, capped by `net.core.somaxconn`); raise it for bursts of connects.
        public var backlog: Int32 = 1024
        #if TLS
        /// TLS (wss://): when set, every connection starts with a TLS handshake. See
        /// ``useTLS(certificateChainFile:privateKeyFile:)`` for PEM files. Present with the
        /// package trait `TLS`.
        public var tls: TLSConfiguration?
        #endif
        /// Where the server's metrics go (docs/metrics.md lists them); nil: the
        /// process-wide `MetricsSystem` (nothing is recorded until it is bootstrapped).
        public var metricsFactory: (any MetricsFactory)?

        /// The defaults listed on each property.
        public init() {}

        /// Serves wss:// with a PEM certificate chain (leaf first) and a PEM private key.
        /// Without the package trait `TLS` this throws ``WebSocketServerError/tlsUnavailable``.
        public mutating func useTLS(certificateChainFile: String, privateKeyFile: String) throws {
            #if TLS
            let chain = try NIOSSLCertificate.fromPEMFile(certificateChainFile)
            let key = try NIOSSLPrivateKey(file: privateKeyFile, format: .pem)
            tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            #else
            throw WebSocketServerError.tlsUnavailable
            #endif
        }
    }

    /// Called once for each new WebSocket, on its event loop, before any of its messages.
    public typealias ConnectionHandler = @Sendable (WebSocketConnection) -> Void

    /// The settings the server was created with.
    public let configuration: Configuration
    /// The event loops that run the listener and the connections (NIO's shared singleton by default).
    public let group: EventLoopGroup
    private let onConnection: ConnectionHandler
    private let state = Mutex(State())
    private let closed: EventLoopPromise<Void>

    /// Configuration and logger, one copy shared by every connection.
    let connectionSettings: WebSocketConnection.Settings
    /// The server-wide bound on buffered bytes (see `Configuration.memoryBudget`).
    public let memoryBudget: MemoryBudget?
    /// Connections, handshakes, messages, bytes, drops and closes (swift-metrics).
    package let metrics: WebSocketMetrics
    let requestPolicy: RequestPolicy
    private let loopbackOnly = Atomic<Bool>(false)
    /// Whether the server listens on loopback only (then `Host` is checked).
    var isLoopbackOnly: Bool { loopbackOnly.load(ordering: .relaxed) }

    private struct State {
        var listener: Channel?
        /// Every accepted TCP connection, keyed by its channel, so shutdown reaches them all.
        var accepted: [ObjectIdentifier: AcceptedConnection] = [:]
        var webSocketCount = 0
        var reservedSlots = 0
        var heartbeat: RepeatedTask?
        /// How often the heartbeat ticks: the shortest `pingInterval` of the server and its routes.
        var heartbeatTick: TimeAmount?
        /// Each route's connection settings, made once (routes are few and live long).
        var routes: [ObjectIdentifier: (route: WebSocketRoute, settings: WebSocketConnection.Settings)] = [:]
        var closing = false
    }

    private enum AcceptedConnection {
        /// Plain HTTP so far (a handshake in progress, a page, a long poll).
        case http(Channel)
        case webSocket(WebSocketConnection)

        var channel: Channel {
            switch self {
            case .http(let channel): channel
            case .webSocket(let connection): connection.channel
            }
        }
    }

    /// Creates a server; `onConnection` runs on the connection's event loop for each new
    /// WebSocket, before any of its messages are delivered.
    public init(
        configuration: Configuration = Configuration(),
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onConnection: @escaping ConnectionHandler
    ) {
        self.configuration = configuration
        self.group = group
        self.onConnection = onConnection
        let budget = configuration.memoryBudget.map { MemoryBudget(limit: $0, logger: configuration.logger) }
        self.memoryBudget = budget
        self.requestPolicy = RequestPolicy(origins: configuration.allowedOrigins, allowedHosts: configuration.allowedHosts)
        let metrics = WebSocketMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory)
        self.metrics = metrics
        self.connectionSettings = .init(configuration: configuration.webSocket, logger: configuration.logger,
                                        memoryBudget: budget, metrics: metrics)
        self.closed = group.next().makePromise(of: Void.self)
    }

    deinit {
        // A server that never listened (or failed to) still owns this promise.
        closed.succeed(())
    }

    /// The live WebSocket connections (a snapshot), for broadcast.
    public var connections: [WebSocketConnection] {
        state.withLock { Self.webSockets($0) }
    }

    private static func webSockets(_ state: State) -> [WebSocketConnection] {
        var result: [WebSocketConnection] = []
        result.reserveCapacity(state.webSocketCount)
        for case .webSocket(let connection) in state.accepted.values { result.append(connection) }
        return result
    }

    /// The address the server listens on (useful after `listen(port: 0)`).
    public var localAddress: SocketAddress? {
        state.withLock { $0.listener?.localAddress }
    }

    var isClosing: Bool { state.withLock { $0.closing } }

    /// Accepted TCP connections still tracked, upgraded or not (tests check for leaks).
    package var trackedConnectionCount: Int { state.withLock { $0.accepted.count } }

    /// Starts listening. Returns the bound port (pass 0 for a free one).
    @discardableResult
    public func listen(port: Int = 3000, host: String = "127.0.0.1") async throws -> Int {
        #if TLS
        let sslContext = try configuration.tls.map { try NIOSSLContext(configuration: $0) }
        #endif
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: configuration.backlog)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            // One socket read per read event while a connection speaks HTTP: a client that
            // pipelines requests gets at most one receive buffer parsed before reading
            // pauses. WebSockets read up to `webSocketMessagesPerRead` at a time.
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 1)
            // Small first reads: an idle connection's buffer stays small, busy ones grow it.
            .childChannelOption(ChannelOptions.recvAllocator,
                                value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536))
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    #if TLS
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                    }
                    #endif
                    try self.configurePipeline(channel)
                }
            }
        guard (0...65535).contains(port) else { throw WebSocketServerError.invalidPort(port) }
        let listener: Channel
        do {
            listener = try await bootstrap.bind(host: host, port: port).get()
        } catch {
            throw WebSocketServerError.from(error, host: host, port: port)
        }
        state.withLock { $0.listener = listener }
        loopbackOnly.store(Self.isLoopback(listener.localAddress), ordering: .relaxed)
        if let interval = configuration.webSocket.pingInterval { scheduleHeartbeat(every: interval) }
        configuration.logger.info("listening", metadata: ["address": "\(listener.localAddress.map { "\($0)" } ?? "?")"])
        return listener.localAddress?.port ?? port
    }

    /// Socket reads per read event on an upgraded connection (a burst of small frames is
    /// read in one go).
    static let webSocketMessagesPerRead: UInt = 16

    private static func isLoopback(_ address: SocketAddress?) -> Bool {
        switch address {
        case .v4(let v4): v4.address.sin_addr.s_addr.bigEndian >> 24 == 127
        case .v6: address?.ipAddress == "::1"
        default: false
        }
    }

    package func configurePipeline(_ channel: Channel) throws {
        let accepted = state.withLock { state -> Bool in
            guard !state.closing else { return false }
            state.accepted[ObjectIdentifier(channel)] = .http(channel)
            return true
        }
        guard accepted else {
            channel.close(promise: nil)
            return
        }
        // The entry leaves when the HTTP handler sees the channel go inactive, or, once
        // upgraded, when the WebSocket closes: no callback per channel.
        do {
            let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
            let encoder = HTTPResponseEncoder()
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(decoder)
            try sync.addHandler(encoder)
            try sync.addHandler(HTTPServerHandler(server: self, decoder: decoder, encoder: encoder))
        } catch {
            httpChannelClosed(channel)
            throw error
        }
    }

    /// Waits until the server has been closed. In a `ServiceGroup` (the server is a
    /// `Service`), graceful shutdown (SIGTERM) or cancellation closes it first: close 1001
    /// to every client, close handshakes awaited up to 3 s.
    public func run() async throws {
        try await runUntilClosed(closed.futureResult) { [self] in await close() }
    }

    /// Graceful shutdown: stops accepting, sends close 1001 to every client, waits up to
    /// `timeout` for their close frames, then drops whatever is left.
    public func close(code: CloseCode = .goingAway, reason: String = "server shutting down", timeout: TimeAmount = .seconds(3)) async {
        let (alreadyClosing, listener, connections, heartbeat) = state.withLock { state in
            defer { state.closing = true }
            return (state.closing, state.listener, Self.webSockets(state), state.heartbeat)
        }
        // A second call (a signal during shutdown) waits for the first one.
        guard !alreadyClosing else {
            try? await closed.futureResult.get()
            return
        }
        heartbeat?.cancel()
        try? await listener?.close()
        for connection in connections { connection.close(code: code, reason: reason) }
        // Plain HTTP connections (idle keep-alives, pre-connected browser sockets) go now.
        let idleHTTP = state.withLock { state in
            state.accepted.values.compactMap { entry -> Channel? in
                if case .http(let channel) = entry { channel } else { nil }
            }
        }
        for channel in idleHTTP { channel.close(promise: nil) }

        let loop = group.next()
        let allClosed = EventLoopFuture.andAllComplete(connections.map { $0.channel.closeFuture }, on: loop)
        await withTaskGroup(of: Void.self) { waiters in
            waiters.addTask { try? await allClosed.get() }
            waiters.addTask { try? await Task.sleep(nanoseconds: UInt64(max(0, timeout.nanoseconds))) }
            await waiters.next()
            waiters.cancelAll()
        }
        for entry in state.withLock({ Array($0.accepted.values) }) { entry.channel.close(promise: nil) }
        // Logged before `run()` returns: the program may exit right after.
        configuration.logger.info("server closed")
        closed.succeed(())
    }

    // MARK: - Registry (called by the HTTP handler)

    func reserveConnectionSlot() -> Bool {
        state.withLock { state in
            guard !state.closing, state.webSocketCount + state.reservedSlots < configuration.maxConnections else { return false }
            state.reservedSlots += 1
            return true
        }
    }

    /// Gives back a slot reserved by `reserveConnectionSlot` that no connection took.
    func releaseConnectionSlot() {
        state.withLock { $0.reservedSlots -= 1 }
    }

    func connectionOpened(_ connection: WebSocketConnection) {
        let key = ObjectIdentifier(connection.channel)
        state.withLock { state in
            state.reservedSlots -= 1
            state.webSocketCount += 1
            state.accepted[key] = .webSocket(connection)
        }
        connection.registry = self
        metrics.handshakesAccepted.increment()
        metrics.connections.increment()
        onConnection(connection)
    }

    func connectionClosed(_ connection: WebSocketConnection, code: CloseCode) {
        metrics.connections.decrement()
        metrics.closed(code: code.rawValue)
        state.withLock { state in
            if case .webSocket = state.accepted.removeValue(forKey: ObjectIdentifier(connection.channel)) {
                state.webSocketCount -= 1
            }
        }
    }

    /// A connection that never upgraded has closed.
    func httpChannelClosed(_ channel: Channel) {
        state.withLock { state in
            let key = ObjectIdentifier(channel)
            if case .http = state.accepted[key] { state.accepted.removeValue(forKey: key) }
        }
    }

    /// The connection settings of a route (made on its first handshake).
    func settings(for route: WebSocketRoute) -> WebSocketConnection.Settings {
        let key = ObjectIdentifier(route)
        let (settings, isNew) = state.withLock { state in
            if let known = state.routes[key] { return (known.settings, false) }
            let made = WebSocketConnection.Settings(configuration: route.configuration, logger: configuration.logger,
                                                    memoryBudget: memoryBudget, metrics: metrics)
            state.routes[key] = (route, made)
            return (made, true)
        }
        if isNew, let interval = route.configuration.pingInterval { scheduleHeartbeat(every: interval) }
        return settings
    }

    /// Makes the heartbeat tick at least every `interval` (connections with longer
    /// intervals count ticks).
    func scheduleHeartbeat(every interval: TimeAmount) {
        state.withLock { state in
            guard !state.closing, state.heartbeatTick.map({ interval < $0 }) ?? true else { return }
            state.heartbeat?.cancel()
            state.heartbeatTick = interval
            state.heartbeat = group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
                heartbeatTick(interval)
            }
        }
    }

    private func heartbeatTick(_ tick: TimeAmount) {
        forEachEventLoop(connections, loop: \.eventLoop) { group in
            for connection in group { connection.heartbeat(tick: tick) }
        }
    }
}

extension WebSocketServer: Service {}
