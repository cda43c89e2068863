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

    private static let typeKey = Array(#""type":"#.utf8)
    private static let msgKey = Array(#""msg":""#.utf8)
    private static let separator = Array(": ".utf8)

    /// The digit of `"type":N`.
    static func type(_ head: ByteBuffer) -> Int? {
        head.withUnsafeReadableBytes { bytes -> Int? in
            guard bytes.first == UInt8(ascii: "{"), let end = find(typeKey, in: bytes, from: 0), end < bytes.count,
                  (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[end]) else { return nil }
            return Int(bytes[end] - UInt8(ascii: "0"))
        }
    }

    /// The send time and publisher id after `"msg":"<name>: `.
    static func stamp(_ head: ByteBuffer) -> (sentAt: UInt64, publisher: UInt32)? {
        head.withUnsafeReadableBytes { bytes -> (sentAt: UInt64, publisher: UInt32)? in
            guard let msg = find(msgKey, in: bytes, from: 0), let offset = find(separator, in: bytes, from: msg),
                  let time = parseHex(bytes, at: offset, digits: 16),
                  let id = parseHex(bytes, at: offset + 16, digits: 8) else { return nil }
            return (time, UInt32(id))
        }
    }

    /// The index just after the first `key` at or after `start` (a plain scan: the generic
    /// `firstRange` cost more than the rest of a delivery).
    private static func find(_ key: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        let count = bytes.count, length = key.count
        guard length > 0, count >= length else { return nil }
        let first = key[0]
        var index = start
        while index <= count - length {
            if bytes[index] == first {
                var matched = 1
                while matched < length && bytes[index + matched] == key[matched] { matched += 1 }
                if matched == length { return index + length }
            }
            index += 1
        }
        return nil
    }
}
