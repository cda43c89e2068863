import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
#if TLS
import NIOSSL
#endif
import Synchronization

/// A WebSocket client shaped like the browser's `WebSocket`:
///
/// ```swift
/// let socket = try WebSocket(url: "wss://example.com/chat", protocols: ["chat.v1"])
/// socket.onOpen { socket.send("hello") }
/// socket.onMessage { message in print(message) }
/// socket.onClose { event in print(event.code, event.reason, event.wasClean) }
/// ```
///
/// or with async/await:
///
/// ```swift
/// let socket = try await WebSocket.connect("ws://127.0.0.1:3000/")
/// socket.send("hello")
/// for try await message in socket.messages { print(message) }
/// ```
///
/// Creating the object starts connecting at once. Events are delivered on the socket's
/// event loop; methods may be called from any thread. Unlike in a browser (where events wait
/// for the running script to finish), the connection may progress while handlers are being
/// set, so nothing is lost to that race: a handler set after its event (open, error, close)
/// already happened is called at once, and messages that arrive while nobody listens (no
/// message handler set, `messages` not accessed yet) are kept, reading pausing after 64 of
/// them, then handed to the first consumer.
///
/// This type is the connecting phase and the browser's face; once open, messages, pings and
/// the `messages` stream are the ``WebSocketConnection``'s own (``connection``).
public final class WebSocket: @unchecked Sendable {
    /// How a client connects: the connection limits, the connect timeout, TLS and logging.
    public struct Configuration: Sendable {
        /// Limits, timeouts and compression. Differences from the server's defaults:
        /// permessage-deflate is offered (``PerMessageDeflateOptions/shared``), and there
        /// is no heartbeat ping (servers ping; the client answers).
        public var webSocket: WebSocketConfiguration
        /// Time allowed for the whole opening handshake: DNS, TCP, TLS and HTTP upgrade.
        public var connectTimeout: TimeAmount = .seconds(10)
        #if TLS
        /// TLS for wss:// URLs. The default verifies the server against the system's trust
        /// roots and the URL's host name.
        public var tls: TLSConfiguration = .makeClientConfiguration()
        #endif
        /// Where connection failures and protocol errors are logged (`duplex.client`).
        public var logger = Logger(label: "duplex.client")

        /// The defaults of a browser: compression offered, no heartbeat of its own, 10 s to
        /// connect, the system trust roots.
        public init() {
            webSocket = WebSocketConfiguration()
            webSocket.compression = .shared
            webSocket.pingInterval = nil
        }
    }

    /// The URL as given to the initializer, for logs and the browser's `url` property.
    public let url: String
    /// The parsed URL: scheme, host, port and the resource sent in the request line.
    public let target: WebSocketURL
    /// The event loop the socket lives on: its events run here, and its connection uses it.
    public let eventLoop: EventLoop
    /// The settings the socket was created with.
    public let configuration: Configuration

    // MARK: Shared across threads
    private let state = Atomic<Int>(ReadyState.connecting.rawValue)
    /// What the handshake settled; the connection stays reachable after it closed.
    private let negotiated = Mutex<(subprotocol: String, extensions: String, connection: WebSocketConnection?)>(("", "", nil))
    /// The `messages` stream when asked for before the connection opened: the connection
    /// adopts it, or the handshake's failure ends it.
    private let earlyStream = Mutex<MessageStream?>(nil)
    private let openPromise: EventLoopPromise<Void>
    private let closePromise: EventLoopPromise<CloseEvent>

    // MARK: Event-loop confined
    /// The connecting phase's own events (the connection has no open or handshake error).
    private var onOpenHandler: (@Sendable () -> Void)?
    private var onErrorHandler: (@Sendable (Error) -> Void)?
    private var onCloseHandler: (@Sendable (CloseEvent) -> Void)?
    /// Message and ping handlers set before the connection exists, handed to it at open.
    private var earlyHandlers = WebSocketConnection.Handlers()
    private var channel: Channel?
    private var current: WebSocketConnection?
    private var closeEvent: CloseEvent?
    private var abortRequested = false
    private var heartbeat: RepeatedTask?
    /// Which lifecycle events happened and reached a handler (for handlers set late).
    private var opened = false
    private var openDelivered = false
    private var undeliveredErrors: [Error] = []
    private var closeDelivered = false
    /// The handshake's error, for a message sequence asked for after the failure.
    private var failure: Error?

    /// Starts connecting to `url` (`ws://` or `wss://`), offering `protocols` as
    /// subprotocols and sending `headers` with the upgrade request. Throws only for an
    /// unusable URL; connection failures arrive as an error event then a close event (code
    /// 1006), as in browsers.
    public init(
        url: String, protocols: [String] = [], headers: HTTPHeaders = [:],
        configuration: Configuration = Configuration(),
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws(WebSocketClientError) {
        self.url = url
        self.target = try WebSocketURL(url)
        for name in protocols where !ExtensionHeader.isToken(name) || protocols.filter({ $0 == name }).count > 1 {
            throw .invalidURL(url, "invalid or repeated subprotocol \"\(name)\"")
        }
        self.configuration = configuration
        self.eventLoop = group.next()
        self.openPromise = eventLoop.makePromise(of: Void.self)
        self.closePromise = eventLoop.makePromise(of: CloseEvent.self)
        start(protocols: protocols, headers: headers)
    }

    /// Connects and waits for the connection to open. Throws a ``WebSocketClientError``
    /// when the handshake fails.
    public static func connect(
        _ url: String, protocols: [String] = [], headers: HTTPHeaders = [:],
        configuration: Configuration = Configuration(),
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> WebSocket {
        let socket = try WebSocket(url: url, protocols: protocols, headers: headers, configuration: configuration, group: group)
        try await socket.waitUntilOpen()
        return socket
    }

    // MARK: - Browser-like properties

    /// Where the socket is in its life: `.connecting` until the handshake completes, then
    /// `.open`, `.closing` once a close frame went either way, `.closed` at the end.
    public var readyState: ReadyState {
        let socketState = ReadyState(rawValue: state.load(ordering: .acquiring))!
        // Once open, the connection knows about closing.
        if socketState == .open, let connection = negotiated.withLock({ $0.connection }) {
            return connection.readyState
        }
        return socketState
    }
    /// The subprotocol the server chose, or "" (the browser's `protocol`).
    public var `protocol`: String { negotiated.withLock { $0.subprotocol } }
    /// The extensions the server accepted (`Sec-WebSocket-Extensions`), or "".
    public var extensions: String { negotiated.withLock { $0.extensions } }
    /// Bytes queued for the socket but not yet written.
    public var bufferedAmount: Int { negotiated.withLock { $0.connection }?.bufferedAmount ?? 0 }
    /// The underlying connection once open (for its request, addresses, counters).
    public var connection: WebSocketConnection? { negotiated.withLock { $0.connection } }

    // MARK: - Events

    /// Called once when the handshake succeeded; at once if that already happened. Setting it
    /// again replaces the handler.
    public func onOpen(_ handler: @escaping @Sendable () -> Void) {
        onLoop { socket in
            socket.onOpenHandler = handler
            if socket.opened && !socket.openDelivered {
                socket.openDelivered = true
                handler()
            }
            socket.dropHandlersIfClosed()
        }
    }
    /// A message arrived (the browser's `onmessage`). A handler that throws closes the
    /// connection with 1011.
    public func onMessage(_ handler: @escaping @Sendable (WebSocketMessage) throws -> Void) {
        setConnectionHandler { $0.message = handler }
    }
    /// A text message arrived (valid UTF-8, reassembled). A handler that throws closes the
    /// connection with 1011.
    public func onText(_ handler: @escaping @Sendable (String) throws -> Void) { setConnectionHandler { $0.text = handler } }
    /// A binary message arrived (reassembled and decompressed).
    public func onBinary(_ handler: @escaping @Sendable (ByteBuffer) throws -> Void) { setConnectionHandler { $0.binary = handler } }
    /// A ping arrived (the pong is sent automatically).
    public func onPing(_ handler: @escaping @Sendable (ByteBuffer) -> Void) { setConnectionHandler { $0.ping = handler } }
    /// A pong arrived: an answer to ``ping(_:)``, or the peer's unsolicited heartbeat.
    public func onPong(_ handler: @escaping @Sendable (ByteBuffer) -> Void) { setConnectionHandler { $0.pong = handler } }
    /// Something failed: the handshake (a ``WebSocketClientError``) or the open connection
    /// (a ``WebSocketError``). A close event follows.
    public func onError(_ handler: @escaping @Sendable (Error) -> Void) {
        onLoop { socket in
            socket.onErrorHandler = handler
            let missed = socket.undeliveredErrors
            socket.undeliveredErrors = []
            for error in missed { handler(error) }
            socket.dropHandlersIfClosed()
        }
    }
    /// The connection closed (once, always last).
    public func onClose(_ handler: @escaping @Sendable (CloseEvent) -> Void) {
        onLoop { socket in
            socket.onCloseHandler = handler
            if let event = socket.closeEvent, !socket.closeDelivered {
                socket.closeDelivered = true
                handler(event)
            }
            socket.dropHandlersIfClosed()
        }
    }

    /// Message handlers belong to the connection; before it exists they wait here.
    private func setConnectionHandler(_ update: @escaping @Sendable (inout WebSocketConnection.Handlers) -> Void) {
        onLoop { socket in
            if let connection = socket.current {
                connection.setHandler(update)
            } else if socket.closeEvent == nil {
                update(&socket.earlyHandlers)
            }
        }
    }

    /// After the close, handlers are not kept (they would hold the socket forever).
    private func dropHandlersIfClosed() {
        guard closeEvent != nil else { return }
        onOpenHandler = nil
        onErrorHandler = nil
        onCloseHandler = nil
    }

    private func emitError(_ error: Error) {
        if let handler = onErrorHandler {
            handler(error)
        } else if closeEvent == nil && undeliveredErrors.count < 8 {
            undeliveredErrors.append(error)
        }
    }

    /// Waits until the connection is open; throws the handshake's error if it failed.
    public func waitUntilOpen() async throws {
        try await openPromise.futureResult.get()
    }

    /// Waits until the connection has closed and returns how.
    @discardableResult
    public func waitUntilClosed() async -> CloseEvent {
        // The close promise is always fulfilled, never failed.
        (try? await closePromise.futureResult.get()) ?? CloseEvent(code: .abnormalClosure, reason: "", wasClean: false)
    }

    /// The messages as an async sequence; it ends when the connection closes and throws
    /// if it failed (the handshake's error included). Reading pauses when the consumer
    /// falls behind.
    public var messages: WebSocketMessageSequence {
        earlyStream.withLock { box in
            if let existing = box { return existing.sequence }
            if let connection = negotiated.withLock({ $0.connection }) { return connection.messages }
            let stream = MessageStream { [weak self] in
                guard let self else { return }
                self.eventLoop.execute { self.current?.resumeReading() }
            }
            box = stream
            onLoop { socket in
                // The handshake already failed: nothing will adopt the stream.
                if socket.current == nil, socket.closeEvent != nil { socket.endEarlyStream() }
            }
            return stream.sequence
        }
    }

    private func endEarlyStream() {
        guard let stream = earlyStream.withLock({ $0 }) else { return }
        if let failure { stream.source.finish(failure) } else { stream.source.finish() }
    }

    // MARK: - Sending

    /// Sends a text message. Before the connection is open this is an error (as in browsers):
    /// the message is dropped and an error event reports it; after close it is ignored.
    /// `compress: false` sends it uncompressed even with permessage-deflate.
    public func send(_ text: String, compress: Bool = true) {
        onLoop { $0.withOpenConnection { $0.sendMessage(.text(text), compress: compress) } }
    }
    /// Sends a binary message; the buffer is not copied. Dropped with an error event before
    /// the connection is open, ignored after close.
    /// `compress`: as for text.
    public func send(_ data: ByteBuffer, compress: Bool = true) {
        onLoop { $0.withOpenConnection { $0.sendMessage(.binary(data), compress: compress) } }
    }
    /// Sends a binary message from an array (copied into a buffer once).
    public func send(_ bytes: [UInt8], compress: Bool = true) { send(ByteBuffer(bytes: bytes), compress: compress) }
    /// Sends a ping (at most 125 bytes).
    public func ping(_ payload: ByteBuffer = ByteBuffer()) {
        precondition(payload.readableBytes <= 125, "ping payload over 125 bytes")
        onLoop { $0.withOpenConnection { $0.ping(payload) } }
    }

    /// Starts the closing handshake; while still connecting, abandons the connection (an
    /// error event, then close 1006, as in browsers).
    public func close(code: CloseCode = .normalClosure, reason: String = "") {
        onLoop { socket in
            if let connection = socket.current {
                connection.close(code: code, reason: reason)
            } else if socket.closeEvent == nil {
                socket.abortRequested = true
                socket.channel?.close(promise: nil)
            }
        }
    }

    /// Drops the TCP connection at once, without a closing handshake.
    public func terminate() {
        onLoop { socket in
            if let connection = socket.current { connection.terminate() } else { socket.close() }
        }
    }

    // MARK: - Connecting

    private func start(protocols: [String], headers: HTTPHeaders) {
        let target = self.target
        let configuration = self.configuration
        let timeout = configuration.connectTimeout
        let deadline = NIODeadline.now() + timeout
        #if TLS
        let sslContext: NIOSSLContext?
        if target.secure {
            do {
                sslContext = try NIOSSLContext(configuration: configuration.tls)
            } catch {
                eventLoop.execute { self.handshakeFailed(.tls("\(error)")) }
                return
            }
        } else {
            sslContext = nil
        }
        #else
        if target.secure {
            eventLoop.execute { self.handshakeFailed(.tlsUnavailable) }
            return
        }
        #endif
        let connectionPromise = eventLoop.makePromise(of: WebSocketConnection.self)
        let request = ClientHandshakeHandler.Request(
            url: target, protocols: protocols, headers: headers, configuration: configuration.webSocket,
            logger: configuration.logger, deadline: deadline, timeout: timeout)
        // The handlers go in once the TCP connection is up: with several addresses (happy
        // eyeballs) only the winning channel gets them.
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.maxMessagesPerRead, value: 16)
        bootstrap.connect(host: target.host, port: target.port).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                self.channel = channel
                if abortRequested {
                    channel.close(promise: nil)
                    connectionPromise.fail(WebSocketClientError.aborted)
                    return
                }
                do {
                    let sync = channel.pipeline.syncOperations
                    #if TLS
                    if let sslContext {
                        let handler = try NIOSSLClientHandler(context: sslContext, serverHostname: target.isIPAddress ? nil : target.host)
                        try sync.addHandler(handler)
                    }
                    #endif
                    let encoder = HTTPRequestEncoder()
                    let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
                    try sync.addHandler(encoder)
                    try sync.addHandler(decoder)
                    try sync.addHandler(ClientHandshakeHandler(
                        request: request, encoder: encoder, decoder: decoder, promise: connectionPromise,
                        onOpen: { connection in self.opened(connection) }))
                } catch {
                    channel.close(promise: nil)
                    connectionPromise.fail(error)
                }
            case .failure(let error):
                connectionPromise.fail(error)
            }
        }
        connectionPromise.futureResult.whenFailure { [self] error in
            handshakeFailed(abortRequested ? .aborted : WebSocketClientError.from(error, url: target, timeout: timeout))
        }
    }

    /// The handshake succeeded: on the event loop, before any frame is read.
    private func opened(_ connection: WebSocketConnection) {
        self.current = connection
        negotiated.withLock { $0 = (connection.subprotocol ?? "", connection.extensions, connection) }
        // The connection drops its handlers when it closes, which breaks these cycles.
        var handlers = earlyHandlers
        earlyHandlers = WebSocketConnection.Handlers()
        handlers.error = { [self] error in emitError(error) }
        connection.handlers = handlers
        if let stream = earlyStream.withLock({ $0 }) { connection.adoptMessageStream(stream) }
        connection.observeClose { [self] event in closed(event) }
        if let interval = configuration.webSocket.pingInterval {
            heartbeat = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                connection.heartbeat()
            }
        }
        state.store(ReadyState.open.rawValue, ordering: .releasing)
        if abortRequested {
            connection.close(code: .normalClosure, reason: "")
        }
        opened = true
        if let open = onOpenHandler {
            openDelivered = true
            open()
        }
        openPromise.succeed(())
    }

    private func handshakeFailed(_ error: WebSocketClientError) {
        guard closeEvent == nil else { return }
        configuration.logger.debug("WebSocket handshake failed", metadata: ["url": "\(target)", "error": "\(error)"])
        state.store(ReadyState.closed.rawValue, ordering: .releasing)
        emitError(error)
        openPromise.fail(error)
        failure = error
        earlyHandlers = WebSocketConnection.Handlers()
        finish(CloseEvent(code: .abnormalClosure, reason: "", wasClean: false))
        endEarlyStream()
    }

    private func closed(_ event: CloseEvent) {
        heartbeat?.cancel()
        heartbeat = nil
        state.store(ReadyState.closed.rawValue, ordering: .releasing)
        finish(event)
    }

    private func finish(_ event: CloseEvent) {
        closeEvent = event
        if let close = onCloseHandler {
            closeDelivered = true
            close(event)
        }
        closePromise.succeed(event)
        // Break reference cycles through captured sockets (handlers set later are called
        // once with the missed events and not kept).
        dropHandlersIfClosed()
    }

    // MARK: - Helpers

    private func withOpenConnection(_ body: (WebSocketConnection) -> Void) {
        if let current {
            body(current)
        } else if closeEvent == nil {
            emitError(WebSocketError.transport("send before the connection is open"))
        }
    }

    private func onLoop(_ body: @escaping @Sendable (WebSocket) -> Void) {
        if eventLoop.inEventLoop {
            body(self)
        } else {
            eventLoop.execute { body(self) }
        }
    }
}

extension WebSocket: CustomStringConvertible {
    public var description: String { "WebSocket(\(target), \(readyState))" }
}
