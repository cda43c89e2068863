import Duplex
import Logging
import NIOCore
import NIOPosix
import NIOHTTP1
import Synchronization
import ServiceLifecycle

/// An Engine.IO v4 server: sessions over HTTP long-polling and WebSockets, upgrades,
/// heartbeat, the reference server's error answers.
///
/// Run it by itself with ``listen(port:host:)``, or mount it next to other handlers of a
/// `WebSocketServer` with ``mount(into:)`` plus ``accept(_:)`` in the server's
/// connection handler.
public final class EngineIOServer: Sendable {
    /// The settings the server was created with.
    public let options: EngineIOOptions
    let onConnection: @Sendable (EngineIOSocket) -> Void
    private let sessions: EngineIOSessionRegistry
    private let closing = Atomic<Bool>(false)
    private let standalone = Mutex<WebSocketServer?>(nil)
    /// The settings of this server's WebSockets, whatever server they are mounted in:
    /// messages up to `maxHttpBufferSize` (refused at the frame header beyond it), no
    /// WebSocket heartbeat (Engine.IO pings itself), the session's outbound budget.
    let webSocketRoute: WebSocketRoute
    private let closed = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)

    /// `onConnection` runs on the session's event loop for each new session, before any
    /// of its messages is delivered.
    public init(options: EngineIOOptions = EngineIOOptions(), onConnection: @escaping @Sendable (EngineIOSocket) -> Void) {
        self.options = options
        self.onConnection = onConnection
        self.sessions = EngineIOSessionRegistry(maxSessions: options.maxSessions, maxPerAddress: options.maxSessionsPerAddress)
        var webSocket = WebSocketConfiguration()
        webSocket.maxMessageSize = max(options.maxHttpBufferSize, 1024)
        webSocket.pingInterval = nil
        webSocket.maxBufferedAmount = options.maxBufferedBytes
        webSocket.compression = options.compression
        self.webSocketRoute = WebSocketRoute(configuration: webSocket)
    }

    /// The open sessions (a snapshot).
    public var clients: [EngineIOSocket] { sessions.all }

    /// The number of open sessions, cheaper than `clients.count`.
    public var clientsCount: Int { sessions.count }

    func session(_ id: String) -> EngineIOSocket? {
        sessions.session(id)
    }

    func remove(_ session: EngineIOSocket) {
        sessions.remove(session)
    }

    /// Sessions the client closed over polling with no poll pending, for a moment: a poll
    /// it sent along with the CLOSE is released with NOOP instead of refused. Expired
    /// entries are swept when the table has doubled since the last sweep (amortized O(1)
    /// per close, not a scan per close).
    private let clientClosed = Mutex<(entries: [String: NIODeadline], sweepAt: Int)>(([:], 64))

    func rememberClientClose(_ id: String) {
        let now = NIODeadline.now()
        clientClosed.withLock { closed in
            if closed.entries.count >= closed.sweepAt {
                closed.entries = closed.entries.filter { $0.value > now }
                closed.sweepAt = max(64, closed.entries.count * 2)
            }
            closed.entries[id] = now + .milliseconds(200)
        }
    }

    private func takeClientClose(_ id: String) -> Bool {
        clientClosed.withLock { closed in
            guard let deadline = closed.entries.removeValue(forKey: id) else { return false }
            return deadline > .now()
        }
    }

    /// Registers a new session; logs and returns the refusal when a session limit is reached.
    private func register(_ session: EngineIOSocket) -> EngineIOSessionRegistry.Refusal? {
        guard let refusal = sessions.register(session) else { return nil }
        logRefusal(refusal, address: session.request.remoteAddress, transport: session.request.transport)
        return refusal
    }

    private let refusalLog = EngineIOLogThrottle()
    /// Sessions closed for their outbound budget (at most one line a second for them all).
    let budgetLog = EngineIOLogThrottle()

    private func logRefusal(_ refusal: EngineIOSessionRegistry.Refusal, address: SocketAddress?, transport: EngineIOTransport) {
        guard let heldBack = refusalLog.admit() else { return }
        options.logger.warning("Engine.IO handshake refused: \(refusal.logDescription)", metadata: [
            "remote": "\(address?.description ?? "unknown")", "transport": "\(transport.rawValue)",
            "maxSessions": "\(options.maxSessions)", "maxSessionsPerAddress": "\(options.maxSessionsPerAddress)",
            "refusalsNotLogged": "\(heldBack)",
        ])
    }

    /// The answer to a polling handshake refused for a session limit: 503, with a
    /// reference-style JSON body and a hint to retry later.
    static func sessionLimitResponse(_ refusal: EngineIOSessionRegistry.Refusal, headers: HTTPHeaders) -> HTTPResponse {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        headers.replaceOrAdd(name: "Retry-After", value: "5")
        let body = EngineIORequestError(.badRequest, message: refusal.message).json
        return HTTPResponse(status: .serviceUnavailable, headers: headers, body: ByteBuffer(string: body))
    }

    private func handshakeData(upgrades: [String], sid: String) -> EngineIOHandshake {
        EngineIOHandshake(sid: sid, upgrades: upgrades, pingInterval: options.pingIntervalMilliseconds,
                          pingTimeout: options.pingTimeoutMilliseconds, maxPayload: options.maxHttpBufferSize)
    }

    // MARK: - Mounting

    /// Adds this server to a WebSocket server's configuration: requests on
    /// `options.path` are answered here, every other request goes to the handlers that
    /// were configured before (plain HTTP: the previous `httpHandler`, or 404; upgrades:
    /// the previous `shouldUpgrade`, or accepted). Call ``accept(_:)`` from the server's
    /// connection handler. Also raises `maxRequestBodySize` to `maxHttpBufferSize` and turns
    /// on `options.compression` when the configuration has none.
    public func mount(into configuration: inout WebSocketServer.Configuration) {
        let previousHTTP = configuration.httpHandler
        let previousUpgrade = configuration.shouldUpgrade
        configuration.httpHandler = { [self] request in
            if options.matches(path: request.path) {
                return handle(request)
            }
            if let previousHTTP { return previousHTTP(request) }
            return request.eventLoop.makeSucceededFuture(HTTPResponse(status: .notFound, body: "not found\n"))
        }
        configuration.shouldUpgrade = { [self] head, address in
            let (path, _) = URIQuery.split(head.uri)
            if options.matches(path: path) {
                return shouldUpgrade(head, remoteAddress: address)
            }
            return previousUpgrade?(head, address) ?? .accept()
        }
        configuration.maxRequestBodySize = max(configuration.maxRequestBodySize, options.maxHttpBufferSize)
        // Pages of the origins CORS allows may use the WebSocket transport too.
        switch options.cors?.origin {
        case .any?: configuration.allowedOrigins = .any
        case .list(let origins)?: configuration.allowedOrigins = configuration.allowedOrigins.allowing(origins)
        case nil: break
        }
    }

    /// Takes a new WebSocket if it is on this server's path (returns false otherwise, for
    /// the caller to handle it).
    public func accept(_ connection: WebSocketConnection) -> Bool {
        guard options.matches(path: connection.path) else { return false }
        let route = EngineIORoute.route(method: .GET, query: connection.query, isWebSocket: true, options: options)
        switch route {
        case .handshake:
            guard !closing.load(ordering: .relaxed) else {
                connection.close(code: .goingAway)
                return true
            }
            let info = EngineIORequestInfo(method: .GET, uri: connection.request.uri, path: connection.path,
                                           query: connection.query, headers: connection.headers,
                                           remoteAddress: connection.remoteAddress, transport: .websocket)
            let session = EngineIOSocket(id: RandomID.make(), request: info, transport: .websocket,
                                         eventLoop: connection.eventLoop, server: self)
            // Checked at the upgrade already; sessions opened meanwhile may have filled it.
            guard register(session) == nil else {
                connection.close(code: .tryAgainLater, reason: "too many sessions")
                return true
            }
            session.run { session in
                session.attachInitialWebSocket(connection)
                session.open(handshake: self.handshakeData(upgrades: [], sid: session.id))
            }
        case .session(let sid, .websocket):
            guard let session = session(sid) else {
                connection.close()
                return true
            }
            // Read the WebSocket from now on (its handlers must be set before this
            // returns); its packets reach the session after the attach, in order.
            let link = EngineIOWebSocketLink(connection: connection, session: session, role: .upgrade)
            link.install()
            session.run { $0.attachUpgrade(connection, link: link) }
        default:
            connection.close()
        }
        return true
    }

    /// The upgrade decision for a WebSocket handshake on this server's path.
    public func shouldUpgrade(_ head: HTTPRequestHead, remoteAddress: SocketAddress?) -> UpgradeDecision {
        let (path, query) = URIQuery.split(head.uri)
        let info = EngineIORequestInfo(method: head.method, uri: head.uri, path: path, query: query,
                                       headers: head.headers, remoteAddress: remoteAddress, transport: .websocket)
        let route = EngineIORoute.route(method: head.method, query: query, isWebSocket: true, options: options,
                                        allow: options.allowRequest.map { hook in { hook(info) } })
        switch route {
        case .handshake(.websocket):
            if let refusal = sessions.check(address: remoteAddress) {
                logRefusal(refusal, address: remoteAddress, transport: .websocket)
                return .reject(HandshakeError(status: .serviceUnavailable, reason: refusal.message, headers: ["Retry-After": "5"]))
            }
            return .accept(route: webSocketRoute)
        case .session(let sid, .websocket):
            // A second WebSocket for an upgraded session is accepted, then closed (the
            // reference server does so; clients expect no HTTP error there).
            guard session(sid) != nil else {
                return .reject(HandshakeError(status: .badRequest, reason: EngineIOErrorCode.unknownSessionID.message))
            }
            return .accept(route: webSocketRoute)
        case .error(let error):
            return .reject(HandshakeError(status: .badRequest, reason: error.message))
        default:
            return .reject(HandshakeError(status: .badRequest, reason: EngineIOErrorCode.badRequest.message))
        }
    }

    // MARK: - HTTP

    static func errorResponse(_ error: EngineIORequestError, headers: HTTPHeaders) -> HTTPResponse {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: error.code.status, headers: headers, body: ByteBuffer(string: error.json))
    }

    /// Answers a plain HTTP request on this server's path (polling, preflight, errors).
    public func handle(_ request: HTTPRequest) -> EventLoopFuture<HTTPResponse> {
        let loop = request.eventLoop
        let cors = options.cors.map {
            EngineIOCORS.headers(for: request.headers, options: $0, preflight: request.method == .OPTIONS)
        } ?? HTTPHeaders()
        let info = EngineIORequestInfo(method: request.method, uri: request.uri, path: request.path, query: request.query,
                                       headers: request.headers, remoteAddress: request.remoteAddress, transport: .polling)
        let route = EngineIORoute.route(method: request.method, query: request.query, isWebSocket: false, options: options,
                                        allow: options.allowRequest.map { hook in { hook(info) } })
        switch route {
        case .preflight:
            return loop.makeSucceededFuture(HTTPResponse(status: .noContent, headers: cors))
        case .error(let error):
            return loop.makeSucceededFuture(Self.errorResponse(error, headers: cors))
        case .handshake:
            guard !closing.load(ordering: .relaxed) else {
                return loop.makeSucceededFuture(Self.errorResponse(EngineIORequestError(.badRequest), headers: cors))
            }
            let upgrades = options.allowUpgrades && options.transports.contains(.websocket) ? ["websocket"] : []
            let session = EngineIOSocket(id: RandomID.make(), request: info, transport: .polling, eventLoop: loop, server: self)
            if let refusal = register(session) {
                return loop.makeSucceededFuture(Self.sessionLimitResponse(refusal, headers: cors))
            }
            let promise = loop.makePromise(of: HTTPResponse.self)
            session.run { session in
                session.open(handshake: self.handshakeData(upgrades: upgrades, sid: session.id))
                session.handlePoll(promise: promise, headers: cors, connectionClosed: request.connectionClosed)
            }
            return promise.futureResult
        case .session(let sid, let transport):
            guard let session = session(sid) else {
                if transport == .polling, request.method == .GET, takeClientClose(sid) {
                    return loop.makeSucceededFuture(EngineIOSocket.pollResponse([.noop], headers: cors))
                }
                return loop.makeSucceededFuture(Self.errorResponse(EngineIORequestError(.unknownSessionID), headers: cors))
            }
            guard transport == .polling else {
                return loop.makeSucceededFuture(Self.errorResponse(EngineIORequestError(.badRequest), headers: cors))
            }
            let promise = loop.makePromise(of: HTTPResponse.self)
            switch request.method {
            case .GET:
                session.run { $0.handlePoll(promise: promise, headers: cors, connectionClosed: request.connectionClosed) }
            case .POST:
                // Decoded here, on the request's loop; applied on the session's.
                let limit = options.maxHttpBufferSize
                let decoded = Result { () throws(EngineIOParserError) -> [EngineIOPacket] in
                    try EngineIOPayload.decode(request.body, maxBytes: limit)
                }
                session.run { promise.succeed($0.handlePost(decoded, headers: cors)) }
            default:
                promise.succeed(Self.errorResponse(EngineIORequestError(.badRequest), headers: cors))
            }
            return promise.futureResult
        }
    }

    // MARK: - Standalone

    /// Listens by itself (a `WebSocketServer` with this server mounted). Returns the port.
    @discardableResult
    public func listen(port: Int, host: String = "127.0.0.1") async throws -> Int {
        let server = makeWebSocketServer()
        standalone.withLock { $0 = server }
        return try await server.listen(port: port, host: host)
    }

    /// A WebSocket server that serves this server alone: what ``listen(port:host:)`` runs,
    /// and what the framework integrations host on their app's port.
    package func makeWebSocketServer() -> WebSocketServer {
        var configuration = WebSocketServer.Configuration()
        configuration.webSocket.pingInterval = nil  // nothing but Engine.IO's path is served
        mount(into: &configuration)
        return WebSocketServer(configuration: configuration) { [self] connection in
            if !accept(connection) { connection.close(code: .policyViolation, reason: "not an Engine.IO path") }
        }
    }

    /// Closes every session (reason `forced close`), and the listener when listening by
    /// itself.
    public func close() async {
        closing.store(true, ordering: .relaxed)
        for session in clients { session.close() }
        if let server = standalone.withLock({ $0 }) { await server.close() }
        closed.succeed(())
    }

    /// Waits until ``close()`` has finished (the way to keep a program serving); in a
    /// `ServiceGroup`, graceful shutdown or cancellation closes the server first.
    public func run() async throws {
        try await runUntilClosed(closedFuture) { [self] in await close() }
    }

    /// Completed when ``close()`` has finished.
    package var closedFuture: EventLoopFuture<Void> { closed.futureResult }

    deinit {
        closed.succeed(())  // a server never closed still owns the promise
    }
}

extension EngineIOServer: Service {}
