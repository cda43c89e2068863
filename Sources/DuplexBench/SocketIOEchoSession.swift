import NIOCore

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
