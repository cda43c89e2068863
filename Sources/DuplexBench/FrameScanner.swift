import NIOCore

/// Reads server frames as they arrive, without copying payloads: it only counts their bytes,
/// keeps the first `captureLimit` bytes of each data message (for timestamps and ack ids)
/// and the payload of control frames (for pongs).
struct FrameScanner {
    enum Event: Equatable {
        /// A complete data message (all its fragments) of `length` bytes; its head is in `captured`.
        case message(opcode: UInt8, length: Int)
        case ping
        case pong
        case close
    }

    struct Violation: Error, CustomStringConvertible {
        var description: String
    }

    /// Bytes of each data message kept in `captured` (0: none).
    let captureLimit: Int
    /// The head of the current data message (up to `captureLimit` bytes).
    private(set) var captured: ByteBuffer
    /// The payload of the last control frame.
    private(set) var control: ByteBuffer

    private var partialHeader: ByteBuffer
    private var inPayload = false
    private var remaining = 0
    private var opcode: UInt8 = 0
    private var fin = false
    private var masked = false
    private var messageOpcode: UInt8 = 0
    private var messageLength = 0

    init(captureLimit: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.captureLimit = captureLimit
        self.captured = allocator.buffer(capacity: max(captureLimit, 1))
        self.control = allocator.buffer(capacity: 128)
        self.partialHeader = allocator.buffer(capacity: 16)
    }

    /// The next complete event from `input`, or nil when more bytes are needed.
    mutating func next(_ input: inout ByteBuffer) throws -> Event? {
        while true {
            if !inPayload {
                guard try readHeader(&input) else { return nil }
                if remaining == 0, let event = try frameDone() { return event }
                if remaining == 0 { continue }
            }
            let available = input.readableBytes
            guard available > 0 else { return nil }
            let take = min(available, remaining)
            if opcode >= 8 {
                var slice = input.readSlice(length: take)!
                control.writeBuffer(&slice)
            } else {
                if captured.readableBytes < captureLimit {
                    let keep = min(take, captureLimit - captured.readableBytes)
                    var slice = input.getSlice(at: input.readerIndex, length: keep)!
                    captured.writeBuffer(&slice)
                }
                input.moveReaderIndex(forwardBy: take)
                messageLength += take
            }
            remaining -= take
            if remaining == 0, let event = try frameDone() { return event }
        }
    }

    /// Parses a frame header; false when `input` ends inside it (the bytes are kept).
    private mutating func readHeader(_ input: inout ByteBuffer) throws -> Bool {
        if partialHeader.readableBytes == 0 {
            // Fast path: the whole header is in `input`.
            guard let b0 = input.getInteger(at: input.readerIndex, as: UInt8.self),
                  let b1 = input.getInteger(at: input.readerIndex + 1, as: UInt8.self) else {
                if input.readableBytes > 0 { partialHeader.writeBuffer(&input) }
                return false
            }
            let need = Self.headerLength(b1)
            if input.readableBytes >= need {
                try parseHeader(input.readSlice(length: need)!)
                return true
            }
            partialHeader.writeBuffer(&input)
            return false
        }
        // Slow path: a header split across reads.
        if partialHeader.readableBytes < 2 {
            guard let byte = input.readInteger(as: UInt8.self) else { return false }
            partialHeader.writeInteger(byte)
            if partialHeader.readableBytes < 2 { return false }
        }
        let need = Self.headerLength(partialHeader.getInteger(at: partialHeader.readerIndex + 1, as: UInt8.self)!)
        let missing = need - partialHeader.readableBytes
        if missing > 0 {
            let take = min(missing, input.readableBytes)
            var slice = input.readSlice(length: take)!
            partialHeader.writeBuffer(&slice)
            if take < missing { return false }
        }
        let header = partialHeader
        partialHeader.clear()
        try parseHeader(header)
        return true
    }

    private static func headerLength(_ b1: UInt8) -> Int {
        let length7 = b1 & 0x7F
        return 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + (b1 & 0x80 != 0 ? 4 : 0)
    }

    private mutating func parseHeader(_ header: ByteBuffer) throws {
        var header = header
        let b0: UInt8 = header.readInteger()!
        let b1: UInt8 = header.readInteger()!
        fin = b0 & 0x80 != 0
        opcode = b0 & 0x0F
        masked = b1 & 0x80 != 0
        let length7 = Int(b1 & 0x7F)
        if length7 == 126 {
            remaining = Int(header.readInteger(as: UInt16.self)!)
        } else if length7 == 127 {
            let length = header.readInteger(as: UInt64.self)!
            guard length <= UInt64(Int.max) else { throw Violation(description: "frame length \(length)") }
            remaining = Int(length)
        } else {
            remaining = length7
        }
        if masked { throw Violation(description: "masked frame from the server") }
        switch opcode {
        case 0:
            guard messageOpcode != 0 else { throw Violation(description: "continuation without a message") }
        case 1, 2:
            guard messageOpcode == 0 else { throw Violation(description: "new message inside a fragmented one") }
            messageOpcode = opcode
            messageLength = 0
            captured.clear()
        case 8, 9, 10:
            guard fin, remaining <= 125 else { throw Violation(description: "bad control frame") }
            control.clear()
        default:
            throw Violation(description: "unknown opcode \(opcode)")
        }
        inPayload = true
    }

    private mutating func frameDone() throws -> Event? {
        inPayload = false
        switch opcode {
        case 8: return .close
        case 9: return .ping
        case 10: return .pong
        default:
            guard fin else { return nil }
            let event = Event.message(opcode: messageOpcode, length: messageLength)
            messageOpcode = 0
            return event
        }
    }
}
