import Duplex
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// A message of an Engine.IO session: text or binary.
public enum EngineIOMessage: Sendable, Hashable {
    /// A text MESSAGE.
    case text(String)
    /// A binary MESSAGE (a WebSocket binary frame or a `b<base64>` polling record).
    case binary(ByteBuffer)
}

/// One Engine.IO session (the reference server's `Socket`): a client, whichever transport
/// carries it.
///
/// Everything happens on the session's event loop: the loop of its handshake request, or,
/// after an upgrade to a WebSocket, the WebSocket's loop (the session moves there once, so
/// that WebSocket messages are handled without any hop). Events are delivered there; the
/// methods may be called from anywhere.
public final class EngineIOSocket: @unchecked Sendable {
    /// The session id (`sid`).
    public let id: String
    /// The request that opened the session (headers, query, address), kept for the
    /// session's life: Socket.IO's handshake data comes from it.
    public let request: EngineIORequestInfo
    let server: EngineIOServer
    private let loop: Mutex<EventLoop>

    /// The event loop the session runs on now.
    public var eventLoop: EventLoop { loop.withLock { $0 } }

    // MARK: Event-loop confined
    private var state: EngineIOSessionState
    private var pendingPoll: (promise: EventLoopPromise<HTTPResponse>, headers: HTTPHeaders, token: UInt64)?
    private var pollToken: UInt64 = 0
    private var flushScheduled = false
    private var webSocket: WebSocketConnection?
    private var upgrade: (connection: WebSocketConnection, link: EngineIOWebSocketLink)?
    /// Pings sent so far; a ping-timeout check acts only on the ping it was set for.
    private var pingsSent: UInt64 = 0
    private var awaitingPong = false
    /// Set once the outbox went over `maxBufferedBytes`: the session closes on the next tick
    /// and takes no more packets meanwhile.
    private var overBudget = false
    private var messageHandler: ((EngineIOMessage) -> Void)?
    /// The application's close handler (one: setting it again replaces it).
    private var closeHandler: ((DisconnectReason) -> Void)?
    /// The package's own watchers (Socket.IO's bookkeeping); they never displace the handler.
    private var closeObservers: [(DisconnectReason) -> Void] = []
    private var options: EngineIOOptions { server.options }

    init(id: String, request: EngineIORequestInfo, transport: EngineIOTransport, eventLoop: EventLoop, server: EngineIOServer) {
        self.id = id
        self.request = request
        self.server = server
        self.loop = Mutex(eventLoop)
        self.state = EngineIOSessionState(transport: transport, maxOutboxBytes: server.options.maxBufferedBytes,
                                          maxPacketsPerPoll: server.options.maxPacketsPerPoll)
    }

    // MARK: - Public API

    /// The transport that carries the session now (call on the session's event loop).
    public var currentTransport: EngineIOTransport {
        eventLoop.preconditionInEventLoop()
        return state.transport
    }

    /// Sets the handler of incoming messages (runs on the session's event loop).
    public func onMessage(_ handler: @escaping @Sendable (EngineIOMessage) -> Void) {
        run { $0.messageHandler = handler }
    }

    /// Sets the handler called once when the session closes, with the reason
    /// (`transport close`, `ping timeout`, `parse error`, `transport error`, `forced close`…).
    /// As every `on…` of the package's objects, setting it again replaces it.
    public func onClose(_ handler: @escaping @Sendable (DisconnectReason) -> Void) {
        run { session in
            if session.state.isOpen { session.closeHandler = handler }
        }
    }

    /// Watches the close without touching the application's handler (on the session's loop).
    func observeClose(_ observer: @escaping @Sendable (DisconnectReason) -> Void) {
        run { session in
            if session.state.isOpen { session.closeObservers.append(observer) }
        }
    }

    /// Sends a text MESSAGE. Ignored once the session is closed; a session whose outbound
    /// queue passes ``EngineIOOptions/maxBufferedBytes`` is closed instead.
    public func send(_ text: String) {
        run { $0.sendPackets([.message(text)]) }
    }

    /// Sends a binary MESSAGE, under the same bound as text.
    public func send(_ data: ByteBuffer) {
        run { $0.sendPackets([.message(data)]) }
    }

    /// Closes the session (reason `forced close`).
    public func close() {
        run { $0.closeSession(reason: .forcedClose) }
    }

    // MARK: - Loop confinement

    /// Runs `body` on the session's current event loop (at once when already there). A
    /// task that lands on a loop the session has left is forwarded to the new one.
    func run(_ body: @escaping @Sendable (EngineIOSocket) -> Void) {
        let current = eventLoop
        if current.inEventLoop {
            body(self)
        } else {
            current.execute { self.run(body) }
        }
    }

    /// Whether the caller is on the session's loop (then confined state may be touched).
    var isOnLoop: Bool { eventLoop.inEventLoop }

    /// Schedules `body` on the session's loop after `delay`; it does not run once the
    /// session is gone. Timers of this kind are never cancelled: they check when they fire
    /// whether they still apply. (Cancelling a NIO scheduled task searches the loop's whole
    /// timer queue, so cancelling per pong or per close costs O(sessions) each: closing
    /// many sessions would be quadratic. A timer that fires for nothing is O(log n).)
    /// The closure holds the session weakly, so a closed session is freed at once.
    /// Deadlines are rounded up to a grid of ``timerGranularity``: the timers of sessions
    /// opened close together then fire in one wakeup of the loop, not one wakeup each.
    func schedule(in delay: TimeAmount, _ body: @escaping @Sendable (EngineIOSocket) -> Void) {
        eventLoop.scheduleTask(deadline: Self.coarseDeadline(in: delay)) { [weak self] in self?.run(body) }
    }

    /// How late a session timer may fire, at most.
    static let timerGranularity: UInt64 = 50_000_000

    static func coarseDeadline(in delay: TimeAmount) -> NIODeadline {
        let exact = (NIODeadline.now() + delay).uptimeNanoseconds
        let (slots, remainder) = exact.quotientAndRemainder(dividingBy: timerGranularity)
        guard remainder != 0 else { return .uptimeNanoseconds(exact) }
        let (rounded, overflow) = (slots + 1).multipliedReportingOverflow(by: timerGranularity)
        return .uptimeNanoseconds(overflow ? exact : rounded)
    }

    // MARK: - Sending (on the loop)

    var isOpen: Bool { state.isOpen }
    var isWritable: Bool { state.isWritable }
    /// The WebSocket that carries the session, when it is on one (for broadcasts).
    var currentWebSocket: WebSocketConnection? { state.phase == .websocket ? webSocket : nil }

    /// One text MESSAGE packet; on an upgraded session without the packet array.
    /// `compress: false`: not compressed on a WebSocket with permessage-deflate (Socket.IO's
    /// `compress(false)`; polling responses are never compressed).
    func sendMessage(_ text: String, compress: Bool = true) {
        if state.phase == .websocket, let webSocket {
            webSocket.send(EngineIOPacket.message(text), compress: compress)
        } else {
            sendPackets([.message(text)], compress: compress)
        }
    }

    func sendPackets(_ packets: [EngineIOPacket], compress: Bool = true) {
        send(EngineIOPacketBatch(packets, compress: compress))
    }

    /// Sends packets that may be shared with other sessions (a broadcast).
    func send(_ batch: EngineIOPacketBatch) {
        guard !overBudget else { return }
        switch state.send(batch) {
        case .none:
            break
        case .flushPoll:
            scheduleFlush()
        case .writeWebSocket(let packets):
            guard let webSocket else { return }
            for packet in packets { webSocket.send(packet, compress: batch.compress) }
        case .overBudget:
            closeForBudget()
        }
    }

    /// The client does not take what is sent to it (it stopped polling but keeps the
    /// session alive): the session closes, as a WebSocket over its buffer limit does. On the
    /// next tick, so that nothing that is sending right now (a broadcast, a handler) sees
    /// the session close under it.
    private func closeForBudget() {
        overBudget = true
        if let heldBack = server.budgetLog.admit() {
            options.logger.warning("Engine.IO session closed: more queued for the client than maxBufferedBytes", metadata: [
                "sid": "\(id)", "queuedBytes": "\(state.outboxBytes)", "maxBufferedBytes": "\(options.maxBufferedBytes)",
                "remote": "\(request.remoteAddress?.description ?? "unknown")", "closesNotLogged": "\(heldBack)",
            ])
        }
        eventLoop.execute { [weak self] in self?.run { $0.closeSession(reason: .transportError) } }
    }

    /// Runs `body` on the session's loop once what was sent so far has been written to the
    /// network (on a WebSocket; on polling, on the next tick). Like the reference server,
    /// whose transport takes the next packets only after the previous write completed:
    /// clients see the earlier packets as a message of their own.
    func afterWrite(_ body: @escaping @Sendable (EngineIOSocket) -> Void) {
        if state.phase == .websocket, let channel = webSocket?.channel {
            // An empty write completes after everything written before it; a short pause
            // then lets the client read it before the next bytes arrive.
            channel.writeAndFlush(ByteBuffer()).whenComplete { _ in
                _ = channel.eventLoop.scheduleTask(in: .milliseconds(2)) { self.run(body) }
            }
        } else {
            eventLoop.execute { self.run(body) }
        }
    }

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.execute {
            self.run { session in
                session.flushScheduled = false
                if let packets = session.state.flushPoll() {
                    session.answerPendingPoll(with: packets)
                }
            }
        }
    }

    private func answerPendingPoll(with packets: [EngineIOPacket]) {
        guard let poll = pendingPoll else { return }
        pendingPoll = nil
        poll.promise.succeed(Self.pollResponse(packets, headers: poll.headers))
    }

    static func pollResponse(_ packets: [EngineIOPacket], headers: HTTPHeaders) -> HTTPResponse {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: "text/plain; charset=UTF-8")
        return HTTPResponse(status: .ok, headers: headers, body: EngineIOPayload.encode(packets))
    }

    // MARK: - Opening

    /// Starts the session: the OPEN packet goes out first, then the server's connection
    /// handler runs, then the heartbeat starts.
    func open(handshake: EngineIOHandshake) {
        sendPackets([.open(handshake)])
        server.onConnection(self)
        schedulePing()
    }

    func attachInitialWebSocket(_ connection: WebSocketConnection) {
        webSocket = connection
        let link = EngineIOWebSocketLink(connection: connection, session: self, role: .main)
        link.install()
    }

    // MARK: - Polling (on the loop)

    func handlePoll(promise: EventLoopPromise<HTTPResponse>, headers: HTTPHeaders, connectionClosed: EventLoopFuture<Void>) {
        switch state.poll() {
        case .respond(let packets):
            promise.succeed(Self.pollResponse(packets, headers: headers))
        case .hold:
            pollToken &+= 1
            let token = pollToken
            pendingPoll = (promise, headers, token)
            connectionClosed.whenComplete { _ in
                self.run { session in
                    guard let poll = session.pendingPoll, poll.token == token else { return }
                    session.pendingPoll = nil
                    session.state.pollAbandoned()
                    poll.promise.fail(ChannelError.ioOnClosedChannel)
                    session.closeSession(reason: .transportError)
                }
            }
        case .reject:
            promise.succeed(EngineIOServer.errorResponse(EngineIORequestError(.badRequest), headers: headers))
        case .overlap:
            promise.succeed(EngineIOServer.errorResponse(EngineIORequestError(.badRequest), headers: headers))
            closeSession(reason: .transportError)
        }
    }

    func handlePost(_ decoded: Result<[EngineIOPacket], EngineIOParserError>, headers: HTTPHeaders) -> HTTPResponse {
        guard state.isPolling else {
            return EngineIOServer.errorResponse(EngineIORequestError(.badRequest), headers: headers)
        }
        let packets: [EngineIOPacket]
        switch decoded {
        case .success(let list):
            packets = list
        case .failure(.payloadTooLarge):
            closeSession(reason: .transportError)
            return HTTPResponse(status: .payloadTooLarge, headers: headers, body: "payload too large")
        case .failure:
            closeSession(reason: .parseError)
            return EngineIOServer.errorResponse(EngineIORequestError(.badRequest), headers: headers)
        }
        for packet in packets {
            guard state.isOpen else { break }
            receive(packet)
        }
        var responseHeaders = headers
        responseHeaders.replaceOrAdd(name: "Content-Type", value: "text/html")
        return HTTPResponse(status: .ok, headers: responseHeaders, body: "ok")
    }

    // MARK: - Incoming packets (on the loop)

    /// A packet from the client on the session's transport.
    func receive(_ packet: EngineIOPacket) {
        guard state.isOpen else { return }
        switch packet.type {
        case .message:
            switch packet.body {
            case .text(let text): messageHandler?(.text(text))
            case .binary(let data): messageHandler?(.binary(data))
            }
        case .pong:
            // Only the answer to a ping restarts the cycle (extra pongs change nothing).
            if awaitingPong {
                awaitingPong = false
                schedulePing()
            }
        case .close:
            closeSession(reason: .transportClose, releasePollWith: .noop)
        case .open, .ping, .upgrade, .noop:
            break
        }
    }

    /// Input on the main WebSocket that is not a packet, or the WebSocket's end.
    func webSocketFailed(_ connection: WebSocketConnection, reason: DisconnectReason) {
        if connection === webSocket {
            closeSession(reason: reason)
        } else if connection === upgrade?.connection {
            abortUpgrade()
        }
    }

    // MARK: - Upgrade (on the loop)

    /// A WebSocket with this session's sid; `link` already reads it (installed on the
    /// WebSocket's loop before any frame could be missed).
    func attachUpgrade(_ connection: WebSocketConnection, link: EngineIOWebSocketLink) {
        guard state.beginUpgrade() else {
            connection.close()
            return
        }
        upgrade = (connection, link)
        schedule(in: options.upgradeTimeout) { session in
            guard session.upgrade?.connection === connection else { return }
            session.abortUpgrade()
        }
    }

    /// A packet on the WebSocket that is being upgraded to.
    func receiveUpgrade(_ packet: EngineIOPacket, from connection: WebSocketConnection) {
        guard let upgrade, upgrade.connection === connection else { return }
        if packet.type == .ping, packet.text == "probe" {
            switch state.probe() {
            case .answer(let release):
                connection.send("3probe")
                if let release { answerPendingPoll(with: release) }
            case .invalid:
                abortUpgrade()
            }
        } else if packet.type == .upgrade, let (flush, releasePoll) = state.completeUpgrade() {
            if releasePoll { answerPendingPoll(with: [.noop]) }
            self.upgrade = nil
            webSocket = connection
            // Move the session to the WebSocket's loop: from now on its messages are
            // handled where they are read. Then write what was queued, then let the link
            // deliver what it held back meanwhile.
            let target = connection.eventLoop
            loop.withLock { $0 = target }
            let link = upgrade.link
            target.execute {
                for packet in flush { connection.send(packet) }
                link.upgradeCompleted()
            }
        } else {
            abortUpgrade()
        }
    }

    private func abortUpgrade() {
        guard let upgrade else { return }
        self.upgrade = nil
        state.abortUpgrade()
        upgrade.connection.close()
        let link = upgrade.link
        upgrade.connection.eventLoop.execute { link.upgradeCompleted() }
    }

    // MARK: - Heartbeat (on the loop)

    /// The next ping after `pingInterval`; then `pingTimeout` for its pong.
    private func schedulePing() {
        schedule(in: options.pingInterval) { session in session.ping() }
    }

    private func ping() {
        guard state.isOpen else { return }
        pingsSent &+= 1
        let ping = pingsSent
        awaitingPong = true
        sendPackets([.ping()])
        schedule(in: options.pingTimeout) { session in
            if session.awaitingPong && session.pingsSent == ping { session.closeSession(reason: .pingTimeout) }
        }
    }

    // MARK: - Closing (on the loop)

    /// Ends the session: a pending poll gets `releasePollWith` (CLOSE, or NOOP when the
    /// client asked to close), WebSockets are closed, the close handlers run.
    func closeSession(reason: DisconnectReason, releasePollWith release: EngineIOPacket = .close) {
        guard state.isOpen else { return }
        let wasPolling = state.isPolling
        if state.close(), let poll = pendingPoll {
            pendingPoll = nil
            poll.promise.succeed(Self.pollResponse([release], headers: poll.headers))
        } else if wasPolling && release.type == .noop {
            // The client closed while its poll may still be on the way (sent together
            // with the CLOSE, on another connection): that poll gets the NOOP too.
            server.rememberClientClose(id)
        }
        webSocket?.close()
        upgrade?.connection.close()
        upgrade = nil
        server.remove(self)
        let observers = closeObservers
        let handler = closeHandler
        closeObservers = []
        closeHandler = nil
        messageHandler = nil
        for observer in observers { observer(reason) }
        handler?(reason)
    }
}

/// Reads one WebSocket for a session, on the WebSocket's event loop: decodes the frames
/// into packets there and hands them to the session, directly when the session is on the
/// same loop, otherwise on the session's loop, in order. Once it has seen `5` (upgrade) it
/// holds later frames back until the session has moved to this loop, so nothing is
/// reordered by the move.
final class EngineIOWebSocketLink: @unchecked Sendable {
    enum Role { case main, upgrade }

    private enum Inbound {
        case text(String)
        case binary(ByteBuffer)
        case closed(DisconnectReason)
    }

    let connection: WebSocketConnection
    let session: EngineIOSocket
    private var role: Role
    private var holding = false
    private var held: [Inbound] = []

    init(connection: WebSocketConnection, session: EngineIOSocket, role: Role) {
        self.connection = connection
        self.session = session
        self.role = role
    }

    func install() {
        connection.onText { [self] text in received(.text(text)) }
        connection.onBinary { [self] data in received(.binary(data)) }
        // Not `onClose`: a handler the application set stays (Engine.IO only watches).
        let watch: @Sendable () -> Void = { [self] in
            connection.observeClose { [self] _ in received(.closed(.transportClose)) }
        }
        if connection.eventLoop.inEventLoop { watch() } else { connection.eventLoop.execute(watch) }
    }

    /// The session finished (or gave up) the upgrade: deliver what was held back.
    func upgradeCompleted() {
        role = .main
        holding = false
        let pending = held
        held = []
        for item in pending { received(item) }
    }

    private func received(_ inbound: Inbound) {
        if holding {
            held.append(inbound)
            return
        }
        let limit = session.server.options.maxHttpBufferSize
        let event: Event
        switch inbound {
        case .text(let text):
            if text.utf8.count > limit {
                event = .failed(.transportError)
            } else if let packet = try? EngineIOPacket(text: text) {
                event = .packet(packet)
            } else {
                event = .failed(.parseError)
            }
        case .binary(let data):
            event = data.readableBytes > limit ? .failed(.transportError) : .packet(EngineIOPacket(binaryFrame: data))
        case .closed(let reason):
            event = .failed(reason)
        }
        if role == .upgrade, case .packet(let packet) = event, packet.type == .upgrade {
            holding = true
        }
        let role = self.role
        let connection = self.connection
        if session.isOnLoop {
            Self.dispatch(event, role: role, connection: connection, to: session)
        } else {
            session.run { Self.dispatch(event, role: role, connection: connection, to: $0) }
        }
    }

    private static func dispatch(_ event: Event, role: Role, connection: WebSocketConnection, to session: EngineIOSocket) {
        switch event {
        case .packet(let packet):
            if role == .main {
                session.receive(packet)
            } else {
                session.receiveUpgrade(packet, from: connection)
            }
        case .failed(let reason):
            session.webSocketFailed(connection, reason: reason)
            connection.close()
        }
    }

    private enum Event: Sendable {
        case packet(EngineIOPacket)
        case failed(DisconnectReason)
    }
}

extension WebSocketConnection {
    /// Sends one Engine.IO packet in one frame (the encoding of ``EngineIOPacket/webSocketFrame``):
    /// binary data as is, text as `<type digit><text>` without building the joined string.
    func send(_ packet: EngineIOPacket, compress: Bool = true) {
        switch packet.body {
        case .binary(let data): send(data, compress: compress)
        case .text(let text): send(text, prefix: UInt8(ascii: "0") + packet.type.rawValue, compress: compress)
        }
    }
}
