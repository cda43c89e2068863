import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// How a connection ended: the browser's `CloseEvent`.
public struct CloseEvent: Sendable, Equatable, CustomStringConvertible {
    /// The code from the peer's close frame; 1005 when it had none, 1006 when the TCP
    /// connection ended without one, or the code we failed the connection with.
    public var code: CloseCode
    public var reason: String
    /// Whether both close frames were exchanged before the TCP connection ended.
    public var wasClean: Bool

    public var description: String { "close \(code) \"\(reason)\" \(wasClean ? "clean" : "unclean")" }
}

/// One open WebSocket, server or client side.
///
/// Everything happens on the connection's event loop: events are delivered there, and
/// the methods may be called from anywhere (they hop to the loop when needed). There is
/// no actor or Task per message.
public final class WebSocketConnection: @unchecked Sendable {
    public enum Role: Sendable { case server, client }

    public let role: Role
    public let channel: Channel
    public var eventLoop: EventLoop { channel.eventLoop }
    /// The opening handshake's request (on a client: the request it sent).
    public var request: HTTPRequestHead { storedRequest.head }
    private let storedRequest: StoredRequestHead
    /// The request path without the query, e.g. `/chat`.
    public let path: String
    /// The query parameters of the request URI (percent-decoded; the last value wins).
    public let query: [String: String]
    public var headers: HTTPHeaders { storedRequest.headers }
    public let remoteAddress: SocketAddress?
    /// The negotiated subprotocol (`Sec-WebSocket-Protocol`), if any.
    public let subprotocol: String?
    /// The negotiated extensions (`Sec-WebSocket-Extensions` of the response), or "".
    public let extensions: String
    /// A number unique among this process's connections, for logs and maps.
    public let id: UInt64

    public var readyState: ReadyState { ReadyState(rawValue: state.load(ordering: .acquiring))! }
    /// Messages discarded under the `.dropMessages` backpressure policy.
    public var droppedMessages: Int { dropped.load(ordering: .relaxed) }

    // MARK: Shared across threads (atomics only)
    private let state = Atomic<Int>(ReadyState.open.rawValue)
    private let dropped = Atomic<Int>(0)
    /// `bufferedAmount` as of the last writability change, for readers on other event loops.
    private let bufferedSnapshot = Atomic<Int>(0)
    private let streamRequested = Atomic<Bool>(false)
    private let streamBox = Mutex<MessageStream?>(nil)

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
    private var receiver: FrameReceiver
    private var leftover: ByteBuffer?
    /// What this connection holds against the server's memory budget: the unfinished
    /// inbound message, and outbound bytes queued beyond the write buffer's high-water mark.
    private var inboundCharge = BudgetCharge()
    private var outboundCharge = BudgetCharge()
    var inReadCycle = false
    private var needsFlush = false
    /// Whether this connection waits in its loop's ``PendingFlushes``.
    private var inPendingFlushes = false
    private var inputClosed = false
    private var awaitingPong = false
    private var heartbeatTicks: UInt16 = 0
    /// Created when closing begins (or an error is reported): idle connections carry a pointer.
    private var closingState: ClosingState?
    private var closing: ClosingState {
        if let closingState { return closingState }
        let created = ClosingState()
        closingState = created
        return created
    }
    private var handlers = Handlers()
    /// The loop's copy of the `messages` stream's source (see ``takeRequestedSource()``).
    private var loopSource: WebSocketMessageSequence.Producer.Source?
    /// permessage-deflate, when negotiated.
    private let deflate: PerMessageDeflateCodec?
    /// How a broadcast reaches this connection (immutable: read from any thread).
    let broadcastEncoding: BroadcastEncoding
    /// The server that registered this connection; told once when it has closed.
    weak var registry: WebSocketServer?
    /// Called once, on the event loop, when the connection has closed (the client uses it).
    var onClosedInternal: ((CloseEvent) -> Void)?
    /// The broadcast groups this connection is in: it leaves them when it closes.
    private var groups: [BroadcastGroup]?

    /// What a connection needs from its configuration, shared by every connection of a
    /// server (one reference per connection instead of a copy of each).
    final class Settings: Sendable {
        let configuration: WebSocketConfiguration
        let logger: Logger
        /// The server's bound on what its connections hold for peers (nil: none, as on clients).
        let memoryBudget: MemoryBudget?
        init(configuration: WebSocketConfiguration, logger: Logger, memoryBudget: MemoryBudget? = nil) {
            self.configuration = configuration
            self.logger = logger
            self.memoryBudget = memoryBudget
        }
    }

    private final class ClosingState {
        /// The peer's close frame.
        var received: (code: CloseCode, reason: String)?
        /// Our close frame's write.
        var frameWrite: EventLoopFuture<Void>?
        /// Why we failed or dropped the connection.
        var failure: (code: CloseCode, reason: String)?
        var lastError: WebSocketError?
        var timer: Scheduled<Void>?
    }

    private struct Handlers {
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
        (self.path, self.query) = Self.splitURI(request.uri)
        self.remoteAddress = channel.remoteAddress
        self.subprotocol = subprotocol
        self.extensions = extensions
        self.settings = settings
        self.id = Self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        self.receiver = FrameReceiver(configuration: .init(
            maxMessageSize: configuration.maxMessageSize,
            maxFragments: configuration.maxFragments,
            expectMasked: role == .server,
            compressionNegotiated: deflate != nil,
            directTextLimit: 4096
        ))
        self.deflate = deflate
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
    /// A binary message arrived.
    public func onBinary(_ handler: @escaping @Sendable (ByteBuffer) throws -> Void) { setHandler { $0.binary = handler } }
    /// Any message arrived (the browser's `onmessage`).
    public func onMessage(_ handler: @escaping @Sendable (WebSocketMessage) throws -> Void) { setHandler { $0.message = handler } }
    /// A ping arrived (the pong is sent automatically).
    public func onPing(_ handler: @escaping @Sendable (ByteBuffer) -> Void) { setHandler { $0.ping = handler } }
    /// A pong arrived.
    public func onPong(_ handler: @escaping @Sendable (ByteBuffer) -> Void) { setHandler { $0.pong = handler } }
    /// The connection closed (once, always last).
    public func onClose(_ handler: @escaping @Sendable (CloseEvent) -> Void) { setHandler { $0.close = handler } }
    /// Something went wrong; a close event follows.
    public func onError(_ handler: @escaping @Sendable (Error) -> Void) { setHandler { $0.error = handler } }

    private func setHandler(_ update: @escaping @Sendable (inout Handlers) -> Void) {
        if eventLoop.inEventLoop {
            update(&handlers)
        } else {
            eventLoop.execute { update(&self.handlers) }
        }
    }

    /// The messages as an async sequence (`for try await message in connection.messages`).
    /// It ends when the connection closes, and throws if it failed. Reading pauses when
    /// the consumer falls behind, so a slow consumer does not buffer without bound.
    /// Messages that arrived before the first access are only given to the handlers.
    public var messages: WebSocketMessageSequence {
        streamBox.withLock { box in
            if let existing = box { return existing.sequence }
            let stream = MessageStream { [weak self] in
                guard let self else { return }
                self.eventLoop.execute { self.resumeReading() }
            }
            box = stream
            streamRequested.store(true, ordering: .releasing)
            if readyState == .closed { stream.source.finish() }
            return stream.sequence
        }
    }

    // MARK: - Sending

    /// Sends a text message. Like the browser, a send after close is ignored.
    public func send(_ text: String) {
        if eventLoop.inEventLoop {
            sendMessage(.text(text))
        } else {
            eventLoop.execute { self.sendMessage(.text(text)) }
        }
    }

    /// Sends the ASCII byte `prefix` followed by `text` as one text message, without
    /// building the joined string (Engine.IO puts its packet type before every message).
    package func send(_ text: String, prefix: UInt8) {
        precondition(prefix < 0x80, "the prefix must be ASCII")
        if eventLoop.inEventLoop {
            sendPrefixed(text, prefix)
        } else {
            eventLoop.execute { self.sendPrefixed(text, prefix) }
        }
    }

    private func sendPrefixed(_ text: String, _ prefix: UInt8) {
        guard readyState == .open, context != nil else { return }
        if deflate?.shouldCompress(count: text.utf8.count + 1) == true {
            sendMessage(.text(String(UnicodeScalar(prefix)) + text))
            return
        }
        sendFrame { allocator, mask in FrameEncoder.textFrame(text, prefix: prefix, mask: mask, allocator: allocator) }
    }

    /// Sends a binary message.
    public func send(_ data: ByteBuffer) {
        if eventLoop.inEventLoop {
            sendMessage(.binary(data))
        } else {
            eventLoop.execute { self.sendMessage(.binary(data)) }
        }
    }

    /// Sends a binary message.
    public func send(_ bytes: [UInt8]) {
        send(ByteBuffer(bytes: bytes))
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

    /// The channel crossed a water mark (called on the event loop).
    func writabilityChanged() {
        let buffered = (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        bufferedSnapshot.store(buffered, ordering: .relaxed)
        if channel.isWritable { outboundCharge.releaseAll(in: settings.memoryBudget) }
    }

    /// Writes a broadcast frame without flushing: the flush comes at the end of the read
    /// cycle (the sender) or of the event-loop tick (``PendingFlushes``, one per loop).
    /// Must be called on the event loop.
    func sendBroadcastFrame(_ frame: ByteBuffer, flushes: PendingFlushes) {
        guard readyState == .open, let context, admitSend() else { return }
        context.write(NIOAny(frame), promise: nil)
        if inReadCycle {
            needsFlush = true
        } else if !inPendingFlushes {
            inPendingFlushes = true
            flushes.add(self)
        }
    }

    /// Records that `group` holds this connection; a closed connection leaves at once.
    func noteMembership(in group: BroadcastGroup) {
        onLoop { connection in
            if connection.readyState == .closed {
                group.leave(connection)
            } else {
                connection.groups = (connection.groups ?? []) + [group]
            }
        }
    }

    func forgetMembership(in group: BroadcastGroup) {
        onLoop { connection in
            connection.groups?.removeAll { $0 === group }
            if connection.groups?.isEmpty == true { connection.groups = nil }
        }
    }

    /// Called by ``PendingFlushes`` at the end of the tick.
    func flushQueued() {
        inPendingFlushes = false
        context?.flush()
    }

    private func onLoop(_ body: @escaping @Sendable (WebSocketConnection) -> Void) {
        if eventLoop.inEventLoop {
            body(self)
        } else {
            eventLoop.execute { body(self) }
        }
    }

    private var mask: MaskingKey? { role == .client ? MaskingKey.random() : nil }

    /// Sends a data message: compressed when permessage-deflate is on and it is large
    /// enough, otherwise as is. Must be called on the event loop.
    func sendMessage(_ payload: OutboundPayload) {
        guard readyState == .open, context != nil else { return }
        if deflate?.shouldCompress(count: payload.count) == true {
            var compressed: ByteBuffer?
            sendFrame { allocator, mask in
                do {
                    compressed = try deflate!.compressedFrame(payload, mask: mask, allocator: allocator)
                } catch {
                    logger.warning("compression failed, sending uncompressed", metadata: ["error": "\(error)"])
                }
                return compressed ?? Self.plainFrame(payload, mask: mask, allocator: allocator)
            }
            return
        }
        switch payload {
        case .text(let text):
            sendFrame { allocator, mask in FrameEncoder.textFrame(text, mask: mask, allocator: allocator) }
        case .binary(let data):
            sendBinaryNow(data, opcode: .binary)
        }
    }

    static func plainFrame(_ payload: OutboundPayload, mask: MaskingKey?, allocator: ByteBufferAllocator) -> ByteBuffer {
        switch payload {
        case .text(let text): FrameEncoder.textFrame(text, mask: mask, allocator: allocator)
        case .binary(let data): FrameEncoder.frame(opcode: .binary, payload: data, mask: mask, allocator: allocator)
        }
    }

    private func sendBinaryNow(_ data: ByteBuffer, opcode: Opcode) {
        guard readyState == .open, let context else { return }
        let length = data.readableBytes
        if length <= FrameEncoder.copyThreshold || role == .client {
            sendFrame { allocator, mask in FrameEncoder.frame(opcode: opcode, payload: data, mask: mask, allocator: allocator) }
        } else {
            // Large server payloads go out as header + the caller's buffer: no copy.
            guard admitSend() else { return }
            var header = context.channel.allocator.buffer(capacity: 10)
            FrameEncoder.writeHeader(into: &header, opcode: opcode, length: length, mask: nil)
            context.write(NIOAny(header), promise: nil)
            write(data)
        }
    }

    private func sendFrame(_ encode: (ByteBufferAllocator, MaskingKey?) -> ByteBuffer) {
        guard readyState == .open, let context, admitSend() else { return }
        write(encode(context.channel.allocator, mask))
    }

    /// Applies the backpressure policy; false when the message must not be sent.
    private func admitSend() -> Bool {
        if channel.isWritable { return true }
        let buffered = bufferedAmount
        // Past the high-water mark the backlog counts against the server's budget.
        guard outboundCharge.update(to: buffered, in: settings.memoryBudget, holder: "outbound data of \(self)") else {
            closing.failure = (.tryAgainLater, Self.budgetReason)
            report(.backpressureLimitExceeded(bufferedBytes: buffered))
            channel.close(promise: nil)
            return false
        }
        guard buffered > configuration.maxBufferedAmount else { return true }
        switch configuration.backpressurePolicy {
        case .dropMessages:
            dropped.wrappingAdd(1, ordering: .relaxed)
            return false
        case .close:
            logger.warning("dropping slow reader", metadata: ["buffered": "\(buffered)"])
            closing.failure = (.policyViolation, "outbound buffer limit exceeded")
            report(.backpressureLimitExceeded(bufferedBytes: buffered))
            channel.close(promise: nil)
            return false
        }
    }

    /// Writes now and flushes at the end of the read cycle (batching replies to a read)
    /// or at once when not inside one.
    private func write(_ buffer: ByteBuffer) {
        guard let context else { return }
        if inReadCycle {
            context.write(NIOAny(buffer), promise: nil)
            needsFlush = true
        } else {
            context.writeAndFlush(NIOAny(buffer), promise: nil)
        }
    }

    // MARK: - Inbound (called by WebSocketChannelHandler on the event loop)

    func channelRead(_ buffer: ByteBuffer) {
        guard !inputClosed else { return }
        awaitingPong = false
        var input: ByteBuffer
        if var pending = leftover {
            leftover = nil
            var incoming = buffer
            pending.writeBuffer(&incoming)
            input = pending
        } else {
            input = buffer
        }
        do {
            while !inputClosed, let event = try receiver.next(&input) {
                handle(event)
            }
        } catch {
            fail(error)
            return
        }
        // A message still being assembled after this read counts against the budget.
        if !inputClosed, !inboundCharge.update(to: receiver.bufferedMessageBytes, in: settings.memoryBudget,
                                               holder: "an unfinished message on \(self)") {
            fail(ProtocolViolation(.tryAgainLater, Self.budgetReason))
            return
        }
        if !inputClosed && input.readableBytes > 0 {
            // Only a partial frame header can be left (payloads are consumed as they
            // come): copy those few bytes rather than pin the whole read buffer.
            var rest = ByteBufferAllocator().buffer(capacity: input.readableBytes)
            rest.writeBuffer(&input)
            leftover = rest
        }
    }

    func channelReadComplete() {
        inReadCycle = false
        if needsFlush {
            needsFlush = false
            context?.flush()
        }
    }

    private func handle(_ event: FrameReceiver.Event) {
        switch event {
        case .message(let opcode, var payload, let compressed):
            if compressed {
                guard deflate != nil else {
                    fail(ProtocolViolation(.protocolError, "compressed message without permessage-deflate"))
                    return
                }
                do {
                    payload = try deflate!.inflate(&payload, maxSize: configuration.maxMessageSize, allocator: channel.allocator)
                } catch {
                    fail(error)
                    return
                }
                if opcode == .text {
                    let valid = payload.withUnsafeReadableBytes { UTF8Validator.isValid($0) }
                    guard valid else {
                        fail(ProtocolViolation(.invalidFramePayloadData, "invalid UTF-8 in text message"))
                        return
                    }
                }
            }
            if opcode == .text {
                deliver(.text(String(buffer: payload)))
            } else {
                deliver(.binary(payload))
            }
        case .text(let text):
            deliver(.text(text))
        case .ping(let payload):
            if readyState == .open {
                sendFrame { allocator, mask in FrameEncoder.frame(opcode: .pong, payload: payload, mask: mask, allocator: allocator) }
            }
            handlers.ping?(payload)
        case .pong(let payload):
            handlers.pong?(payload)
        case .close(let code, let reason):
            receivedClose(code: code, reason: reason)
        }
    }

    private func deliver(_ message: WebSocketMessage) {
        do {
            switch message {
            case .text(let text): try handlers.text?(text)
            case .binary(let data): try handlers.binary?(data)
            }
            try handlers.message?(message)
        } catch {
            logger.error("message handler threw", metadata: ["error": "\(error)"])
            report(.handlerFailed("\(error)"))
            startClose(code: .internalServerError, reason: "internal error")
        }
        if let source = loopSource ?? takeRequestedSource() {
            if case .stopProducing = source.yield(message) {
                channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            }
        }
    }

    /// The `messages` stream's source once someone asked for the stream, fetched under the
    /// lock only once: from then on the event loop keeps its own copy.
    private func takeRequestedSource() -> WebSocketMessageSequence.Producer.Source? {
        guard streamRequested.load(ordering: .acquiring) else { return nil }
        loopSource = streamBox.withLock { $0?.source }
        return loopSource
    }

    func pauseReading() {
        channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
    }

    func resumeReading() {
        guard readyState != .closed else { return }
        channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        channel.read()
    }

    // MARK: - Closing

    private func startClose(code: CloseCode, reason: String) {
        guard readyState == .open else { return }
        let wireCode = code.isValidOnWire ? code : .normalClosure
        writeCloseFrame(code: wireCode, reason: reason)
        setState(.closing)
        closing.timer = eventLoop.scheduleTask(in: configuration.closeTimeout) { [self] in
            logger.debug("close handshake timed out")
            report(.closeTimeout)
            channel.close(promise: nil)
        }
    }

    private func receivedClose(code: CloseCode, reason: String) {
        inputClosed = true
        closing.received = (code, reason)
        if readyState == .open {
            // Echo the code, as RFC 6455 §5.5.1 asks.
            writeCloseFrame(code: code == .noStatusReceived ? nil : code, reason: "")
            setState(.closing)
        }
        switch role {
        case .server:
            // The server closes the TCP connection first (RFC 6455 §7.1.1).
            closeTransportAfterFlush()
        case .client:
            if closing.timer == nil {
                closing.timer = eventLoop.scheduleTask(in: configuration.closeTimeout) { [self] in
                    channel.close(promise: nil)
                }
            }
        }
    }

    /// Fails the connection (RFC 6455 §7.1.7): close frame with the violation's code, then
    /// the TCP connection is dropped without waiting.
    private func fail(_ violation: ProtocolViolation) {
        inputClosed = true
        logger.debug("protocol violation", metadata: ["code": "\(violation.code.rawValue)", "reason": "\(violation.reason)"])
        closing.failure = (violation.code, violation.reason)
        report(.protocolViolation(violation))
        if readyState == .open {
            writeCloseFrame(code: violation.code, reason: violation.reason)
            setState(.closing)
        }
        closeTransportAfterFlush()
    }

    private func writeCloseFrame(code: CloseCode?, reason: String) {
        guard let context else { return }
        let frame = FrameEncoder.closeFrame(code: code, reason: reason, mask: mask, allocator: context.channel.allocator)
        let promise = eventLoop.makePromise(of: Void.self)
        closing.frameWrite = promise.futureResult
        context.writeAndFlush(NIOAny(frame), promise: promise)
    }

    private func closeTransportAfterFlush() {
        context?.flush()
        let channel = self.channel
        if let written = closingState?.frameWrite {
            written.whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }

    /// The heartbeat: called every `pingInterval` by the client, every `tick` by the server
    /// (the shortest interval of its routes: a connection with a longer one counts ticks).
    func heartbeat(tick: TimeAmount? = nil) {
        guard readyState == .open, let interval = configuration.pingInterval else { return }
        if let tick, interval > tick {
            heartbeatTicks &+= 1
            guard Int64(heartbeatTicks) * tick.nanoseconds >= interval.nanoseconds else { return }
            heartbeatTicks = 0
        }
        if awaitingPong {
            logger.debug("heartbeat timeout: peer silent for a whole interval")
            closing.failure = (.abnormalClosure, "heartbeat timeout")
            report(.heartbeatTimeout)
            channel.close(promise: nil)
            return
        }
        awaitingPong = true
        sendBinaryNow(ByteBuffer(), opcode: .ping)
    }

    func errorCaught(_ error: Error) {
        logger.debug("transport error", metadata: ["error": "\(error)"])
        // After the closing handshake (or a failure) the transport may end untidily (a TLS
        // peer that skips close_notify): that is not news for the user.
        if !inputClosed && readyState != .closed {
            report(.transport("\(error)"))
        }
        channel.close(promise: nil)
    }

    static let budgetReason = "server memory budget exceeded"
    /// The write buffer's high-water mark on server connections: a backlog beyond it is
    /// checked against `maxBufferedAmount` and charged to the server's memory budget.
    static let outboundHighWaterMark = 64 * 1024

    func channelInactive() {
        inboundCharge.releaseAll(in: settings.memoryBudget)
        outboundCharge.releaseAll(in: settings.memoryBudget)
        guard readyState != .closed else { return }
        setState(.closed)
        let closingState = self.closingState
        closingState?.timer?.cancel()
        closingState?.timer = nil
        let event: CloseEvent
        if let (code, reason) = closingState?.received {
            event = CloseEvent(code: code, reason: reason, wasClean: closingState?.frameWrite != nil)
        } else if let failure = closingState?.failure {
            event = CloseEvent(code: failure.code, reason: failure.reason, wasClean: false)
        } else {
            event = CloseEvent(code: .abnormalClosure, reason: "", wasClean: false)
        }
        handlers.close?(event)
        onClosedInternal?(event)
        onClosedInternal = nil
        if let stream = streamBox.withLock({ $0 }) {
            if let lastError = closingState?.lastError { stream.source.finish(lastError) } else { stream.source.finish() }
        }
        if let groups {
            self.groups = nil
            for group in groups { group.leave(self) }
        }
        handlers = Handlers()  // break reference cycles through captured connections
        registry?.connectionClosed(self)
        registry = nil
        context = nil
    }

    private func report(_ error: WebSocketError) {
        closing.lastError = error
        handlers.error?(error)
    }

    private func setState(_ newState: ReadyState) {
        state.store(newState.rawValue, ordering: .releasing)
    }

    // MARK: - URI

    static func splitURI(_ uri: String) -> (String, [String: String]) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, [:]) }
        var query: [String: String] = [:]
        for pair in uri[uri.index(after: q)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = percentDecode(parts[0])
            query[key] = parts.count > 1 ? percentDecode(parts[1]) : ""
        }
        return (String(uri[..<q]), query)
    }

    static func percentDecode(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count)
        var it = s.utf8.makeIterator()
        while let c = it.next() {
            if c == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if c == UInt8(ascii: "%"), let h = it.next(), let l = it.next(),
                      let hv = hexValue(h), let lv = hexValue(l) {
                bytes.append(hv << 4 | lv)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
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

/// How a broadcast message is framed for one recipient.
enum BroadcastEncoding: Sendable, Equatable {
    /// No compression: the plain frame.
    case plain
    /// Compressed from scratch with shared-compressor settings `key` (same bytes for every
    /// recipient with the same key) when at least `minimumSize` bytes.
    case shared(DeflateWorkspace.CompressorKey, minimumSize: Int)
    /// Compressed with the recipient's own context: once per recipient, on its loop.
    case dedicated(minimumSize: Int)
}
