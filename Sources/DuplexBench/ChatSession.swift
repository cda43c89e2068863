import NIOCore

/// A member of one `duplex chat` room (its WebSocket protocol, docs/chat-protocol.md). The
/// connection is ready at its welcome (type 3). Publishers send a plain text message on
/// every tick (the chat allows 20 messages per 5 s per connection, so the rate is fixed, not
/// a window); every member receives each one as a type 2 envelope whose `msg` is
/// `<name>: <text>`, the text starting with the send time and the publisher id.
struct ChatSession: BenchSession {
    let template: BroadcastTemplate
    let publisher: UInt32?
    let interval: TimeAmount
    private var scratch: ByteBuffer

    init(template: BroadcastTemplate, publisher: UInt32?, interval: TimeAmount) {
        self.template = template
        self.publisher = publisher
        self.interval = interval
        self.scratch = ByteBufferAllocator().buffer(capacity: publisher == nil ? 0 : template.frameLength)
    }

    /// The whole envelope: its keys come in no fixed order (a welcome to a room of 200
    /// lists their names, about 3 KB).
    var captureLimit: Int { 4096 }

    var tickInterval: TimeAmount? { publisher == nil ? nil : interval }

    mutating func opened(_ io: SessionIO) -> Bool { false }

    mutating func start(_ io: SessionIO) {}

    mutating func tick(_ io: SessionIO) {
        guard let publisher else { return }
        template.frame(into: &scratch, sentAt: monotonicNanoseconds(), publisher: publisher)
        io.loop.countSent()
        io.write(scratch)
    }

    mutating func received(opcode: UInt8, length: Int, head: ByteBuffer, _ io: SessionIO) -> Bool {
        switch Self.type(head) {
        case 3:
            return true  // the welcome: a member now
        case 2:
            let now = monotonicNanoseconds()
            guard let (sentAt, _) = Self.stamp(head) else {
                io.loop.unexpected += 1
                return false
            }
            io.loop.countReceived(sentAt: sentAt, now: now)
        case 6:
            // A refusal (rate_limited, overloaded…): the run is misconfigured or the server
            // is past capacity; either way the result must not look clean.
            io.loop.noteError("the chat refused a message: \(String(buffer: head))")
        case nil:
            io.loop.unexpected += 1
        default:
            break  // enter, leave, presence, rename
        }
        return false
    }

    /// The digit of `"type":N`.
    static func type(_ head: ByteBuffer) -> Int? {
        let view = head.readableBytesView
        guard view.first == UInt8(ascii: "{"),
              let key = view.firstRange(of: Array(#""type":"#.utf8)),
              key.upperBound < view.endIndex,
              (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(view[key.upperBound]) else { return nil }
        return Int(view[key.upperBound] - UInt8(ascii: "0"))
    }

    /// The send time and publisher id after `"msg":"<name>: `.
    static func stamp(_ head: ByteBuffer) -> (sentAt: UInt64, publisher: UInt32)? {
        let view = head.readableBytesView
        guard let msg = view.firstRange(of: Array(#""msg":""#.utf8)),
              let colon = view[msg.upperBound...].firstRange(of: [UInt8(ascii: ":"), UInt8(ascii: " ")]) else { return nil }
        let offset = colon.upperBound - view.startIndex
        return head.withUnsafeReadableBytes { bytes in
            guard let time = parseHex(bytes, at: offset, digits: 16),
                  let id = parseHex(bytes, at: offset + 16, digits: 8) else { return nil }
            return (time, UInt32(id))
        }
    }
}
