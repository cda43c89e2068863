import Duplex
import NIOCore

/// What a connection of the generator does once upgraded: echo, broadcast, Socket.IO, idle.
/// Sessions are structs stored inline in their handler: no existential, no allocation per message.
protocol BenchSession {
    /// Bytes of each data message's head the scanner keeps for `received`.
    var captureLimit: Int { get }
    /// The upgrade completed. Returns true when the connection is ready for load
    /// (Socket.IO sessions still have their own handshake to do).
    mutating func opened(_ io: SessionIO) -> Bool
    /// The measured load begins (all connections are ready).
    mutating func start(_ io: SessionIO)
    /// A complete data message; `head` holds its first `captureLimit` bytes.
    /// Returns true when this message made the connection ready.
    mutating func received(opcode: UInt8, length: Int, head: ByteBuffer, _ io: SessionIO) -> Bool
    /// Sessions that send at a fixed rate: `tick` runs every `tickInterval` once the load began.
    var tickInterval: TimeAmount? { get }
    mutating func tick(_ io: SessionIO)
}

extension BenchSession {
    var tickInterval: TimeAmount? { nil }
    mutating func tick(_ io: SessionIO) {}
}

/// What a session may touch: the pipeline (to write) and its loop's counters.
struct SessionIO {
    let context: ChannelHandlerContext
    let loop: LoopContext

    @inline(__always)
    func write(_ buffer: ByteBuffer) {
        context.write(NIOAny(buffer), promise: nil)
    }

    func flush() {
        context.flush()
    }
}

/// A connection the runner can start and close (type-erased over the session).
protocol LoadConnection: AnyObject {
    func start()
    func shutdown()
}

enum BenchError: Error, CustomStringConvertible {
    case connectFailed(String)
    case handshakeFailed(String)
    case connectionLost(String)
    case serverMisbehaved(String)

    var description: String {
        switch self {
        case .connectFailed(let message): return "cannot connect: \(message)"
        case .handshakeFailed(let message): return "handshake failed: \(message)"
        case .connectionLost(let message): return "connection lost: \(message)"
        case .serverMisbehaved(let message): return "server misbehaved: \(message)"
        }
    }
}

/// One client connection: its own HTTP upgrade, then frames scanned in place and handed to
/// the session. Writes made while handling a read are flushed once, at the end of the read.
final class LoadHandler<Session: BenchSession>: ChannelInboundHandler, LoadConnection {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase { case upgrading, open, ready, closed }

    private var session: Session
    private let loop: LoopContext
    private let request: ByteBuffer
    private let ready: EventLoopPromise<Void>
    private let createdAt: UInt64
    private var phase = Phase.upgrading
    private var response: ByteBuffer?
    private var scanner: FrameScanner
    private var context: ChannelHandlerContext?
    private var shuttingDown = false
    private var ticker: RepeatedTask?

    init(session: Session, loop: LoopContext, request: ByteBuffer, ready: EventLoopPromise<Void>) {
        self.session = session
        self.loop = loop
        self.request = request
        self.ready = ready
        self.createdAt = monotonicNanoseconds()
        self.scanner = FrameScanner(captureLimit: session.captureLimit)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        ready.fail(BenchError.connectionLost("removed before the upgrade"))
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        switch phase {
        case .upgrading:
            readResponse(context: context, &input)
        case .open, .ready:
            scan(context: context, &input)
        case .closed:
            return
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if phase == .ready || phase == .open {
            loop.connections.removeValue(forKey: ObjectIdentifier(self))
            if !shuttingDown && !loop.stopping {
                loop.noteError("the server closed a connection")
            }
        }
        ready.fail(BenchError.handshakeFailed(phase == .upgrading ? "connection closed during the upgrade" : "connection closed"))
        phase = .closed
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if phase == .upgrading {
            ready.fail(BenchError.handshakeFailed("\(error)"))
        } else if !shuttingDown && !loop.stopping {
            loop.noteError("\(error)")
        }
        context.close(promise: nil)
    }

    // MARK: LoadConnection

    func start() {
        guard phase == .ready, let context else { return }
        session.start(SessionIO(context: context, loop: loop))
        context.flush()
        if let interval = session.tickInterval {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            // Publishers start at random points of the interval, not all at once.
            let offset = TimeAmount.nanoseconds(Int64.random(in: 0..<max(1, interval.nanoseconds)))
            ticker = context.eventLoop.scheduleRepeatedTask(initialDelay: offset, delay: interval) { _ in bound.value.tick() }
        }
    }

    private func tick() {
        guard phase == .ready, !shuttingDown, !loop.stopping, let context else {
            ticker?.cancel()
            ticker = nil
            return
        }
        session.tick(SessionIO(context: context, loop: loop))
        context.flush()
    }

    func shutdown() {
        ticker?.cancel()
        ticker = nil
        guard let context, phase != .closed else { return }
        shuttingDown = true
        if phase != .upgrading {
            // A masked close frame with code 1000, then the TCP connection goes.
            var frame = context.channel.allocator.buffer(capacity: 8)
            ClientWire.writeHeader(into: &frame, opcode: 0x8, length: 2)
            frame.writeInteger(ClientWire.maskByte(0x03, at: 0))
            frame.writeInteger(ClientWire.maskByte(0xE8, at: 1))
            context.writeAndFlush(NIOAny(frame), promise: nil)
        }
        context.close(promise: nil)
    }

    // MARK: Upgrade

    private func readResponse(context: ChannelHandlerContext, _ input: inout ByteBuffer) {
        if response == nil {
            response = input
        } else {
            response!.writeBuffer(&input)
        }
        guard let end = response!.readableBytesView.firstRange(of: [13, 10, 13, 10]) else {
            if response!.readableBytes > 16 * 1024 { failUpgrade(context: context, "response head over 16 KiB") }
            return
        }
        let headLength = end.upperBound - response!.readableBytesView.startIndex
        let head = response!.readString(length: headLength) ?? ""
        var rest = response!
        response = nil
        let lines = head.split(separator: "\r\n")
        guard let status = lines.first, status.hasPrefix("HTTP/1.1 101") else {
            failUpgrade(context: context, String(lines.first ?? "empty response"))
            return
        }
        let accept = lines.dropFirst().first { $0.lowercased().hasPrefix("sec-websocket-accept:") }
        let acceptValue = accept.map { $0.dropFirst("sec-websocket-accept:".count).trimmingASCIISpaces() }
        guard acceptValue == ClientWire.expectedAccept else {
            failUpgrade(context: context, "bad Sec-WebSocket-Accept \(acceptValue ?? "(missing)")")
            return
        }
        phase = .open
        loop.connections[ObjectIdentifier(self)] = self
        if session.opened(SessionIO(context: context, loop: loop)) { becomeReady() }
        if rest.readableBytes > 0 { scan(context: context, &rest) }
    }

    private func failUpgrade(context: ChannelHandlerContext, _ message: String) {
        ready.fail(BenchError.handshakeFailed(message))
        phase = .closed
        context.close(promise: nil)
    }

    private func becomeReady() {
        guard phase == .open else { return }
        phase = .ready
        loop.recordHandshake(nanoseconds: monotonicNanoseconds() &- createdAt)
        ready.succeed(())
    }

    // MARK: Frames

    private func scan(context: ChannelHandlerContext, _ input: inout ByteBuffer) {
        do {
            while let event = try scanner.next(&input) {
                switch event {
                case .message(let opcode, let length):
                    if session.received(opcode: opcode, length: length, head: scanner.captured, SessionIO(context: context, loop: loop)) {
                        becomeReady()
                    }
                case .ping:
                    var pong = context.channel.allocator.buffer(capacity: 6 + scanner.control.readableBytes)
                    ClientWire.writeHeader(into: &pong, opcode: 0xA, length: scanner.control.readableBytes)
                    ClientWire.appendMasked(scanner.control.readableBytesView, startingAt: 0, into: &pong)
                    context.write(NIOAny(pong), promise: nil)
                case .pong:
                    break
                case .close:
                    if !shuttingDown && !loop.stopping {
                        loop.serverCloses += 1
                        let code = scanner.control.getInteger(at: scanner.control.readerIndex, as: UInt16.self)
                        if loop.firstError == nil { loop.firstError = "the server sent close \(code.map(String.init) ?? "without a code")" }
                    }
                    shuttingDown = true
                    context.close(promise: nil)
                    return
                }
                if phase == .closed { return }
            }
        } catch {
            loop.noteError("\(error)")
            context.close(promise: nil)
        }
    }
}

