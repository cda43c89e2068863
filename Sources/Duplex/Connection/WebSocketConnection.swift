import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// One open WebSocket, server or client side.
///
/// Everything happens on the connection's event loop: events are delivered there, and
/// the methods may be called from anywhere (they hop to the loop when needed). There is
/// no actor or Task per message.
public final class WebSocketConnection: @unchecked Sendable {
    /// Which end of the connection this is; it decides masking (clients mask their frames)
    /// and which frames the peer must mask.
    public enum Role: Sendable {
        /// Accepted by a ``WebSocketServer``: frames from the peer must be masked.
        case server
        /// Opened by a ``WebSocket``: every frame sent is masked with a fresh random key.
        case client
    }

    /// Whether this side accepted the connection (`.server`) or opened it (`.client`).
    public let role: Role
    /// The SwiftNIO channel underneath, for what Duplex does not wrap (socket options,
    /// channel attributes). Writing to it directly bypasses the framing: don't.
    public let channel: Channel
    /// The event loop the connection's handlers run on; schedule work for this connection here
    /// to stay off locks.
    public var eventLoop: EventLoop { channel.eventLoop }
    /// The opening handshake's request (on a client: the request it sent).
    public var request: HTTPRequestHead { storedRequest.head }
    private let storedRequest: StoredRequestHead
    /// The request path without the query, e.g. `/chat`.
    public let path: String
    /// The query parameters of the request URI (percent-decoded; the last value wins).
    public let query: [String: String]
    /// The headers of the opening handshake's request (cookies, `Authorization`, `Origin`...).
    public var headers: HTTPHeaders { storedRequest.headers }
    /// The peer's address as the socket sees it (a proxy's, behind one); nil when unknown.
    public let remoteAddress: SocketAddress?
    /// The negotiated subprotocol (`Sec-WebSocket-Protocol`), if any.
    public let subprotocol: String?
    /// The negotiated extensions (`Sec-WebSocket-Extensions` of the response), or "".
    public let extensions: String
    /// A number unique among this process's connections, for logs and maps.
    public let id: UInt64

    /// Where the connection is in its life: `.open`, `.closing` once a close frame went either
    /// way, `.closed` after the close event. Safe to read from any thread.
    public var readyState: ReadyState { ReadyState(rawValue: state.load(ordering: .acquiring))! }
    /// Messages discarded under the `.dropMessages` backpressure policy.
    public var droppedMessages: Int { dropped.load(ordering: .relaxed) }

    // MARK: Shared across threads (atomics only)
    let state = Atomic<Int>(ReadyState.open.rawValue)
    let dropped = Atomic<Int>(0)
    /// `bufferedAmount` as of the last writability change, for readers on other event loops.
    let bufferedSnapshot = Atomic<Int>(0)
    let streamRequested = Atomic<Bool>(false)
    let streamBox = Mutex<MessageStream?>(nil)

    // MARK: Event-loop confined
    /// Configuration and logger, shared by all connections of a server.
    let settings: Settings
    var configuration: WebSocketConfiguration { settings.configuration }
    /// The configured logger with this connection's id added when something is logged
    /// (rare), so idle connections carry no metadata copy of their own.
    var logger: Logger {
        var logger = settings.logger
        logger[metadataKey: "ws.id"] = "\(id)"
        return logger
    }
    var context: ChannelHandlerContext?
    var receiver: FrameReceiver
    var leftover: ByteBuffer?
    /// What this connection holds against the server's memory budget: the unfinished
    /// inbound message, and outbound bytes queued beyond the write buffer's high-water mark.
    var inboundCharge = BudgetCharge()
    var outboundCharge = BudgetCharge()
    var inReadCycle = false
    var needsFlush = false
    /// Whether this connection waits in its loop's ``PendingFlushes``.
    var inPendingFlushes = false
    var heartbeatTicks: UInt16 = 0
    /// Open, closing, closed: the closing handshake, failures and heartbeat (pure; the
    /// connection carries out what it returns).
    var lifecycle: WebSocketLifecycle
    /// The I/O side of closing, created when closing begins: idle connections carry a pointer.
    var closeState: CloseIO?
    var handlers = Handlers()
    /// The loop's copy of the `messages` stream's source (see ``takeRequestedSource()``).
    var loopSource: WebSocketMessageSequence.Producer.Source?
    /// Client connections only: messages that arrived before anyone consumed them.
    var unconsumed: CircularBuffer<WebSocketMessage>?
    var pausedForUnconsumed = false
    /// permessage-deflate, when negotiated.
    let deflate: PerMessageDeflateCodec?
    /// How a broadcast reaches this connection (immutable: read from any thread).
    let broadcastEncoding: BroadcastEncoding
    /// The server that registered this connection; told once when it has closed.
    weak var registry: WebSocketServer?
    /// Called once each, on the event loop, when the connection has closed: the package's
    /// own layers (the client face, Engine.IO) watch the close here and leave the user's
    /// `onClose` alone.
    var closeObservers: [(CloseEvent) -> Void]?
    /// The broadcast groups this connection is in: it leaves them when it closes.
    var groups: [BroadcastGroup]?

    /// What a connection needs from its configuration, shared by every connection of a
    /// server (one reference per connection instead of a copy of each).
    final class Settings: Sendable {
        let configuration: WebSocketConfiguration
        let logger: Logger
        /// The server's bound on what its connections hold for peers (nil: none, as on clients).
        let memoryBudget: MemoryBudget?
        /// The server's instruments (nil on clients).
        let metrics: WebSocketMetrics?
        init(configuration: WebSocketConfiguration, logger: Logger, memoryBudget: MemoryBudget? = nil, metrics: WebSocketMetrics? = nil) {
            self.configuration = configuration
            self.logger = logger
            self.memoryBudget = memoryBudget
            self.metrics = metrics
        }
    }

    struct Handlers {
        var text: (@Sendable (String) throws -> Void)?
        var binary: (@Sendable (ByteBuffer) throws -> Void)?
        var message: (@Sendable (WebSocketMessage) throws -> Void)?
        var ping: (@Sendable (ByteBuffer) -> Void)?
        var pong: (@Sendable (ByteBuffer) -> Void)?
        var close: (@Sendable (CloseEvent) -> Void)?
        var error: (@Sendable (Error) -> Void)?
    }

    private static let nextID = Atomic<UInt64>(1)

    init(
        role: Role, channel: Channel, request: HTTPRequestHead, subprotocol: String?, extensions: String,
        settings: Settings, deflate: PerMessageDeflateCodec? = nil
    ) {
        let configuration = settings.configuration
        self.role = role
        self.channel = channel
        self.storedRequest = StoredRequestHead(request)
        (self.path, self.query) = URIQuery.split(request.uri)
        self.remoteAddress = channel.remoteAddress
        self.subprotocol = subprotocol
        self.extensions = extensions
        self.settings = settings
        self.id = Self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        self.lifecycle = WebSocketLifecycle(role: role == .server ? .server : .client)
        self.receiver = FrameReceiver(configuration: .init(
            maxMessageSize: configuration.maxMessageSize,
            maxFragments: configuration.maxFragments,
            expectMasked: role == .server,
            compressionNegotiated: deflate != nil,
            directTextLimit: 4096
        ))
        self.deflate = deflate
        if role == .client { unconsumed = CircularBuffer() }
        if let deflate, deflate.canCompress {
            if let key = deflate.sharedKey {
                broadcastEncoding = .shared(key, minimumSize: max(1, deflate.options.minimumSize))
            } else {
                broadcastEncoding = .dedicated(minimumSize: max(1, deflate.options.minimumSize))
            }
        } else {
            broadcastEncoding = .plain
        }
    }

    /// Whether permessage-deflate was negotiated on this connection.
    public var isCompressionEnabled: Bool { extensions.lowercased().hasPrefix("permessage-deflate") }

    // MARK: - Events (nodejs-websocket style: text, binary, close, error; plus the rest)

    /// A text message arrived. A handler that throws closes the connection with 1011.
    public func onText(_ handler: @escaping @Sendable (String) throws -> Void) { setHandler { $0.text = handler } }
    /// A binary message arrived (reassembled and decompressed). A handler that throws closes
    /// the connection with 1011.
    public func onBinary(_ handler: @escaping @Sendable (ByteBuffer) throws -> Void) { setHandler { $0.binary = handler } }
    /// Any message arrived (the browser's `onmessage`).
    public func onMessage(_ handler: @escaping @Sendable (WebSocketMessage) throws -> Void) { setHandler { $0.message = handler } }
    /// A ping arrived (the pong is sent automatically).
    public func onPing(_ handler: @escaping @Sendable (ByteBuffer) -> Void) { setHandler { $0.ping = handler } }
    /// A pong arrived: the answer to a heartbeat or ``ping(_:)``, or the peer's unsolicited one.
    public func onPong(_ handler: @escaping @Sendable (ByteBuffer) -> Void) { setHandler { $0.pong = handler } }
    /// The connection closed (once, always last).
    public func onClose(_ handler: @escaping @Sendable (CloseEvent) -> Void) { setHandler { $0.close = handler } }
    /// Something went wrong; a close event follows.
    public func onError(_ handler: @escaping @Sendable (Error) -> Void) { setHandler { $0.error = handler } }

    func setHandler(_ update: @escaping @Sendable (inout Handlers) -> Void) {
        onLoop { connection in
            update(&connection.handlers)
            guard connection.unconsumed != nil else { return }
            connection.deliverUnconsumed()
            // After the close, a handler gets what was kept and is not kept itself.
            if connection.readyState == .closed { connection.handlers = Handlers() }
        }
    }

    /// The messages as an async sequence (`for try await message in connection.messages`).
    /// It ends when the connection closes, and throws if it failed. Reading pauses when
    /// the consumer falls behind, so a slow consumer does not buffer without bound.
    /// On a server, messages that arrived before the first access are only given to the
    /// handlers; a client connection keeps them for its first consumer.
    public var messages: WebSocketMessageSequence {
        streamBox.withLock { box in
            if let existing = box { return existing.sequence }
            let stream = MessageStream { [weak self] in
                guard let self else { return }
                self.eventLoop.execute { self.resumeReading() }
            }
            box = stream
            streamRequested.store(true, ordering: .releasing)
            onLoop { connection in
                connection.deliverUnconsumed()
                if connection.readyState == .closed { connection.finishStream(stream) }
            }
            return stream.sequence
        }
    }

    /// Makes `stream`, asked for before this connection existed (by the client face), its
    /// `messages` stream.
    func adoptMessageStream(_ stream: MessageStream) {
        streamBox.withLock { box in
            if box == nil { box = stream }
        }
        streamRequested.store(true, ordering: .releasing)
    }

    // MARK: - Sending

    /// Sends a text message. Like the browser, a send after close is ignored.
    /// - Parameters:
    ///   - text: The message.
    ///   - compress: false sends it uncompressed even with permessage-deflate (Node `ws`'
    ///     `compress: false`: data already compressed, or secrets next to attacker-chosen
    ///     text in one context).
    public func send(_ text: String, compress: Bool = true) {
        if eventLoop.inEventLoop {
            sendMessage(.text(text), compress: compress)
        } else {
            eventLoop.execute { self.sendMessage(.text(text), compress: compress) }
        }
    }

    /// Sends the ASCII byte `prefix` followed by `text` as one text message, without
    /// building the joined string (Engine.IO puts its packet type before every message).
    package func send(_ text: String, prefix: UInt8, compress: Bool = true) {
        precondition(prefix < 0x80, "the prefix must be ASCII")
        if eventLoop.inEventLoop {
            sendPrefixed(text, prefix, compress: compress)
        } else {
            eventLoop.execute { self.sendPrefixed(text, prefix, compress: compress) }
        }
    }

    private func sendPrefixed(_ text: String, _ prefix: UInt8, compress: Bool) {
        guard readyState == .open, context != nil else { return }
        if compress, deflate?.shouldCompress(count: text.utf8.count + 1) == true {
            sendMessage(.text(String(UnicodeScalar(prefix)) + text))
            return
        }
        sendFrame(counting: text.utf8.count + 1) { allocator, mask in FrameEncoder.textFrame(text, prefix: prefix, mask: mask, allocator: allocator) }
    }

    /// Sends a binary message; the buffer is not copied. Like the browser, a send after close
    /// is ignored. `compress`: as for text.
    public func send(_ data: ByteBuffer, compress: Bool = true) {
        if eventLoop.inEventLoop {
            sendMessage(.binary(data), compress: compress)
        } else {
            eventLoop.execute { self.sendMessage(.binary(data), compress: compress) }
        }
    }

    /// Sends a binary message from an array (copied into a buffer once).
    public func send(_ bytes: [UInt8], compress: Bool = true) {
        send(ByteBuffer(bytes: bytes), compress: compress)
    }

    /// Sends a ping (at most 125 bytes of payload).
    public func ping(_ payload: ByteBuffer = ByteBuffer()) {
        precondition(payload.readableBytes <= 125, "ping payload over 125 bytes")
        onLoop { $0.sendBinaryNow(payload, opcode: .ping) }
    }

    /// Sends an unsolicited pong (a heartbeat that expects no answer).
    public func pong(_ payload: ByteBuffer = ByteBuffer()) {
        precondition(payload.readableBytes <= 125, "pong payload over 125 bytes")
        onLoop { $0.sendBinaryNow(payload, opcode: .pong) }
    }

    /// Starts the closing handshake. Codes that may not be sent (1005, 1006, 1015,
    /// below 1000, 1016–2999) are replaced by 1000. The reason is cut to 123 bytes.
    public func close(code: CloseCode = .normalClosure, reason: String = "") {
        onLoop { $0.startClose(code: code, reason: reason) }
    }

    /// Drops the TCP connection at once, without a closing handshake.
    public func terminate() {
        onLoop { $0.channel.close(promise: nil) }
    }

    /// Bytes queued for the socket but not yet written (the browser's `bufferedAmount`).
    /// Exact on the connection's event loop and on plain threads (which wait for the loop);
    /// on another event loop, which must never block, the value as of the last change of
    /// writability.
    public var bufferedAmount: Int {
        if eventLoop.inEventLoop {
            return (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        }
        if MultiThreadedEventLoopGroup.currentEventLoop != nil {
            return bufferedSnapshot.load(ordering: .relaxed)
        }
        return (try? channel.getOption(.bufferedWritableBytes).wait()) ?? 0
    }

}

extension WebSocketConnection: Hashable {
    public static func == (lhs: WebSocketConnection, rhs: WebSocketConnection) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

extension WebSocketConnection: CustomStringConvertible {
    public var description: String {
        "WebSocketConnection(id: \(id), \(readyState), path: \(path), remote: \(remoteAddress.map { "\($0)" } ?? "?"))"
    }
}

