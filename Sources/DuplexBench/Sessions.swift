import NIOCore

// MARK: - Echo

/// The shared, immutable part of an echo run: one pre-masked request frame.
struct EchoTemplate: Sendable {
    let frame: ByteBuffer
    let size: Int

    init(size: Int, binary: Bool) {
        self.size = size
        self.frame = ClientWire.maskedFrame(opcode: binary ? 0x2 : 0x1, payload: ClientWire.filler(count: size), allocator: ByteBufferAllocator())
    }
}

/// Keeps `window` messages in flight: each reply (checked for its length) sends the next.
/// Replies come back in order, so a ring of send times gives each one's latency.
struct EchoSession: BenchSession {
    let template: EchoTemplate
    let window: Int
    private var sentAt: [UInt64]
    private var head = 0
    private var outstanding = 0

    init(template: EchoTemplate, window: Int) {
        self.template = template
        self.window = max(1, window)
        self.sentAt = Array(repeating: 0, count: self.window)
    }

    var captureLimit: Int { 0 }

    func opened(_ io: SessionIO) -> Bool { true }

    mutating func start(_ io: SessionIO) {
        while outstanding < window { send(io, now: monotonicNanoseconds()) }
    }

    @inline(__always)
    private mutating func send(_ io: SessionIO, now: UInt64) {
        var slot = head + outstanding
        if slot >= window { slot -= window }
        sentAt[slot] = now
        outstanding += 1
        io.loop.countSent()
        io.write(template.frame)
    }

    mutating func received(opcode: UInt8, length: Int, head _: ByteBuffer, _ io: SessionIO) -> Bool {
        guard outstanding > 0 else {
            io.loop.unexpected += 1
            return false
        }
        let now = monotonicNanoseconds()
        let started = sentAt[head]
        head += 1
        if head == window { head = 0 }
        outstanding -= 1
        if length != template.size { io.loop.badLength += 1 }
        io.loop.countReceived(sentAt: started, now: now)
        if !io.loop.stopping { send(io, now: now) }
        return false
    }
}

// MARK: - Broadcast

/// The shared part of a broadcast run. A message's payload is
/// `prefix` + send time (16 hex digits) + publisher id (8 hex digits) + filler + `suffix`;
/// everything but the time and the id is masked once, here.
struct BroadcastTemplate: Sendable {
    /// Frame header, masking key and the masked prefix.
    let maskedHead: ByteBuffer
    /// The masked filler and suffix.
    let maskedTail: ByteBuffer
    let prefixLength: Int
    let frameLength: Int
    /// Where the send time starts in a received message (nil: after the first `,"`, Socket.IO).
    let receivedOffset: Int?

    static let stampLength = 24

    init(size: Int, prefix: [UInt8] = [], suffix: [UInt8] = [], receivedOffset: Int? = 0) {
        let size = max(size, Self.stampLength)
        let payloadLength = prefix.count + size + suffix.count
        var head = ByteBufferAllocator().buffer(capacity: 14 + prefix.count)
        ClientWire.writeHeader(into: &head, opcode: 0x1, length: payloadLength)
        ClientWire.appendMasked(prefix, startingAt: 0, into: &head)
        var tail = ByteBufferAllocator().buffer(capacity: size + suffix.count)
        ClientWire.appendMasked(ClientWire.filler(count: size - Self.stampLength) + suffix, startingAt: prefix.count + Self.stampLength, into: &tail)
        self.maskedHead = head
        self.maskedTail = tail
        self.prefixLength = prefix.count
        self.frameLength = head.readableBytes + Self.stampLength + tail.readableBytes
        self.receivedOffset = receivedOffset
    }

    func frame(into buffer: inout ByteBuffer, sentAt: UInt64, publisher: UInt32) {
        buffer.clear()
        buffer.writeImmutableBuffer(maskedHead)
        ClientWire.appendMaskedHex(sentAt, digits: 16, startingAt: prefixLength, into: &buffer)
        ClientWire.appendMaskedHex(UInt64(publisher), digits: 8, startingAt: prefixLength + 16, into: &buffer)
        buffer.writeImmutableBuffer(maskedTail)
    }

    /// The send time and publisher id in a received message's head.
    func parse(_ head: ByteBuffer) -> (sentAt: UInt64, publisher: UInt32)? {
        head.withUnsafeReadableBytes { bytes in
            var offset = receivedOffset ?? -1
            if receivedOffset == nil {
                // Socket.IO: `42["event","<stamp>…`
                var index = 1
                while index + 1 < bytes.count {
                    if bytes[index] == UInt8(ascii: ",") && bytes[index + 1] == UInt8(ascii: "\"") { offset = index + 2; break }
                    index += 1
                }
            }
            guard let time = parseHex(bytes, at: offset, digits: 16),
                  let id = parseHex(bytes, at: offset + 16, digits: 8) else { return nil }
            return (time, UInt32(id))
        }
    }
}

/// Every connection subscribes; publishers also send, keeping `window` of their own messages
/// in flight (a publisher's next message goes when its own copy comes back). Every delivery's
/// latency is measured from the send time the message carries.
struct BroadcastSession: BenchSession {
    let template: BroadcastTemplate
    /// Publishers have an id; subscribers have none.
    let publisher: UInt32?
    let window: Int
    let socketIO: Bool
    private var scratch: ByteBuffer
    private var outstanding = 0
    private var link = SocketIOLink()

    init(template: BroadcastTemplate, publisher: UInt32?, window: Int, socketIO: Bool) {
        self.template = template
        self.publisher = publisher
        self.window = max(1, window)
        self.socketIO = socketIO
        self.scratch = ByteBufferAllocator().buffer(capacity: publisher == nil ? 0 : template.frameLength)
    }

    var captureLimit: Int { 64 }

    mutating func opened(_ io: SessionIO) -> Bool { !socketIO }

    mutating func start(_ io: SessionIO) {
        guard publisher != nil else { return }
        while outstanding < window { publish(io, now: monotonicNanoseconds()) }
    }

    private mutating func publish(_ io: SessionIO, now: UInt64) {
        template.frame(into: &scratch, sentAt: now, publisher: publisher!)
        outstanding += 1
        io.loop.countSent()
        io.write(scratch)
    }

    mutating func received(opcode: UInt8, length: Int, head: ByteBuffer, _ io: SessionIO) -> Bool {
        if socketIO {
            switch link.handle(head: head, io) {
            case .connected: return true
            case .event: break
            case .handled, .ack, .other: return false
            }
        }
        let now = monotonicNanoseconds()
        guard let (sentAt, from) = template.parse(head) else {
            io.loop.unexpected += 1
            return false
        }
        io.loop.countReceived(sentAt: sentAt, now: now)
        if let publisher, from == publisher, outstanding > 0 {
            outstanding -= 1
            if !io.loop.stopping { publish(io, now: now) }
        }
        return false
    }
}

// MARK: - Socket.IO

/// The Engine.IO v4 / Socket.IO v5 packets a WebSocket-only client must answer:
/// open (`0{…}`) → connect to "/" (`40`), connected (`40{…}`), ping (`2`) → pong (`3`).
struct SocketIOLink {
    enum Outcome { case handled, connected, event, ack, other }

    static let connectFrame = ClientWire.maskedFrame(opcode: 0x1, payload: Array("40".utf8), allocator: ByteBufferAllocator())
    static let pongFrame = ClientWire.maskedFrame(opcode: 0x1, payload: Array("3".utf8), allocator: ByteBufferAllocator())

    private(set) var connected = false

    mutating func handle(head: ByteBuffer, _ io: SessionIO) -> Outcome {
        let first = head.getInteger(at: head.readerIndex, as: UInt8.self)
        let second = head.getInteger(at: head.readerIndex + 1, as: UInt8.self)
        switch (first, second) {
        case (UInt8(ascii: "0"), _):
            io.write(Self.connectFrame)
            io.flush()
            return .handled
        case (UInt8(ascii: "2"), _):
            io.write(Self.pongFrame)
            return .handled
        case (UInt8(ascii: "4"), UInt8(ascii: "0")):
            connected = true
            return .connected
        case (UInt8(ascii: "4"), UInt8(ascii: "2")):
            return .event
        case (UInt8(ascii: "4"), UInt8(ascii: "3")):
            return .ack
        case (UInt8(ascii: "4"), UInt8(ascii: "4")):
            io.loop.noteError("Socket.IO connect_error: \(String(buffer: head))")
            return .other
        default:
            return .other
        }
    }
}

/// Socket.IO echo with acks: emits `42<id>["echo","<payload>"]` and expects `43<id>["<payload>"]`,
/// keeping `window` in flight. Acks are matched by id (handlers may answer out of order).
struct SocketIOEchoSession: BenchSession {
    let size: Int
    let window: Int
    private let body: [UInt8]
    private var scratch: ByteBuffer
    private var link = SocketIOLink()
    private var nextID: UInt64 = 0
    private var outstanding = 0
    /// (ack id, send time), indexed by id modulo the capacity.
    private var slots: [(UInt64, UInt64)]

    static let eventPrefix = Array("[\"echo\",\"".utf8)

    init(size: Int, window: Int) {
        self.size = size
        self.window = max(1, window)
        self.body = Self.eventPrefix + ClientWire.filler(count: size) + Array("\"]".utf8)
        self.scratch = ByteBufferAllocator().buffer(capacity: 14 + 24 + body.count)
        var capacity = 4
        while capacity < 4 * self.window { capacity <<= 1 }
        self.slots = Array(repeating: (UInt64.max, 0), count: capacity)
    }

    var captureLimit: Int { 24 }

    func opened(_ io: SessionIO) -> Bool { false }

    mutating func start(_ io: SessionIO) {
        while outstanding < window { send(io, now: monotonicNanoseconds()) }
    }

    private mutating func send(_ io: SessionIO, now: UInt64) {
        let id = nextID
        nextID += 1
        slots[Int(id & UInt64(slots.count - 1))] = (id, now)
        let digits = ClientWire.decimalDigits(id)
        scratch.clear()
        ClientWire.writeHeader(into: &scratch, opcode: 0x1, length: 2 + digits + body.count)
        scratch.writeInteger(ClientWire.maskByte(UInt8(ascii: "4"), at: 0))
        scratch.writeInteger(ClientWire.maskByte(UInt8(ascii: "2"), at: 1))
        ClientWire.appendMaskedDecimal(id, startingAt: 2, into: &scratch)
        ClientWire.appendMasked(body, startingAt: 2 + digits, into: &scratch)
        outstanding += 1
        io.loop.countSent()
        io.write(scratch)
    }

    mutating func received(opcode: UInt8, length: Int, head: ByteBuffer, _ io: SessionIO) -> Bool {
        switch link.handle(head: head, io) {
        case .connected: return true
        case .ack: break
        case .handled, .event, .other: return false
        }
        // 43<id>[…]
        var id: UInt64 = 0
        var digits = 0
        var index = head.readerIndex + 2
        while let c = head.getInteger(at: index, as: UInt8.self), c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
            id = id * 10 + UInt64(c - UInt8(ascii: "0"))
            digits += 1
            index += 1
        }
        let slot = slots[Int(id & UInt64(slots.count - 1))]
        guard digits > 0, slot.0 == id, outstanding > 0 else {
            io.loop.unexpected += 1
            return false
        }
        let now = monotonicNanoseconds()
        slots[Int(id & UInt64(slots.count - 1))].0 = UInt64.max
        outstanding -= 1
        if length != 2 + digits + size + 4 { io.loop.badLength += 1 }
        io.loop.countReceived(sentAt: slot.1, now: now)
        if !io.loop.stopping { send(io, now: now) }
        return false
    }
}

// MARK: - Idle

/// Upgrades and stays idle (pings are answered by the handler). With `touch`, it first has
/// one message echoed, so that buffers a server allocates lazily exist when memory is read.
struct IdleSession: BenchSession {
    let touch: EchoTemplate?

    var captureLimit: Int { 0 }

    func opened(_ io: SessionIO) -> Bool { true }

    mutating func start(_ io: SessionIO) {
        guard let touch else { return }
        io.loop.countSent()
        io.write(touch.frame)
    }

    mutating func received(opcode: UInt8, length: Int, head: ByteBuffer, _ io: SessionIO) -> Bool {
        if let touch, length != touch.size { io.loop.badLength += 1 }
        io.loop.countReceived(sentAt: 0, now: 0)
        return false
    }
}
