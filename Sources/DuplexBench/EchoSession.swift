import NIOCore

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
