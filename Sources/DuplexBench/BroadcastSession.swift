import NIOCore

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
/// in flight (a publisher's next message goes when its own copy comes back), or one every
/// `interval` when it is set. Every delivery's latency is measured from the send time the
/// message carries.
struct BroadcastSession: BenchSession {
    let template: BroadcastTemplate
    /// Publishers have an id; subscribers have none.
    let publisher: UInt32?
    let window: Int
    /// A fixed pace instead of the window.
    let interval: TimeAmount?
    let socketIO: Bool
    private var scratch: ByteBuffer
    private var outstanding = 0
    private var link = SocketIOLink()

    init(template: BroadcastTemplate, publisher: UInt32?, window: Int, interval: TimeAmount? = nil, socketIO: Bool) {
        self.template = template
        self.publisher = publisher
        self.window = max(1, window)
        self.interval = interval
        self.socketIO = socketIO
        self.scratch = ByteBufferAllocator().buffer(capacity: publisher == nil ? 0 : template.frameLength)
    }

    var captureLimit: Int { 64 }

    mutating func opened(_ io: SessionIO) -> Bool { !socketIO }

    var tickInterval: TimeAmount? { publisher == nil ? nil : interval }

    mutating func start(_ io: SessionIO) {
        guard publisher != nil, interval == nil else { return }
        while outstanding < window { publish(io, now: monotonicNanoseconds()) }
    }

    mutating func tick(_ io: SessionIO) {
        publish(io, now: monotonicNanoseconds())
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
        if let publisher, from == publisher, outstanding > 0, interval == nil {
            outstanding -= 1
            if !io.loop.stopping { publish(io, now: now) }
        }
        return false
    }
}
