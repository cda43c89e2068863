import NIOCore

/// A protocol violation by the peer: the close code to fail the connection with, and why.
public struct ProtocolViolation: Error, Sendable, Equatable, CustomStringConvertible {
    /// The close code the connection is failed with (1002, 1007 or 1009).
    public var code: CloseCode
    /// What the peer did wrong, sent as the close reason and logged.
    public var reason: String
    /// A violation with its close code and reason.
    public init(_ code: CloseCode, _ reason: String) {
        self.code = code
        self.reason = reason
    }
    public var description: String { "WebSocket protocol violation \(code): \(reason)" }
}

/// Turns the inbound byte stream into messages and control frames (RFC 6455 §5).
///
/// Payload bytes are unmasked straight from the read buffer into the message being
/// assembled, so no frame is ever buffered twice, and text is validated as it arrives:
/// an invalid byte fails the connection before the rest of the message is read.
struct FrameReceiver {
    struct Configuration: Sendable {
        var maxMessageSize: Int
        var maxFragments: Int
        /// Servers require masked frames; clients require unmasked ones.
        var expectMasked: Bool
        /// RSV1 marks a compressed message once permessage-deflate is negotiated.
        var compressionNegotiated: Bool = false
        /// Text messages up to this size that arrive whole in one uncompressed frame are
        /// unmasked straight into a `String` and returned as ``Event/text(_:)`` (no
        /// intermediate buffer). 0 turns it off: every message is a ``Event/message``.
        var directTextLimit: Int = 0
    }

    enum Event {
        /// A complete data message. `compressed` messages are still deflated (and their
        /// text not yet validated): the extension inflates them.
        case message(Opcode, ByteBuffer, compressed: Bool)
        /// A complete, validated text message read in one piece (see `directTextLimit`).
        case text(String)
        case ping(ByteBuffer)
        case pong(ByteBuffer)
        case close(CloseCode, String)
    }

    private struct FrameHeader {
        var fin: Bool
        var rsv1: Bool
        var opcode: Opcode
        var mask: MaskingKey?
        var length: Int
    }

    private enum State {
        case awaitingHeader
        case readingPayload(FrameHeader, remaining: Int, offset: Int)
    }

    var configuration: Configuration
    private var state = State.awaitingHeader

    // The data message being assembled across fragments.
    private var messageOpcode: Opcode?
    private var message = ByteBuffer()
    private var messageCompressed = false
    private var fragments = 0
    private var utf8 = UTF8Validator()
    // Control frames may arrive between fragments, so they get their own small buffer.
    private var control = ByteBuffer()

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Bytes of the current frame header that arrived without the rest of it.
    /// The caller keeps them and prepends them to the next read.
    var needsMoreData: Bool {
        if case .awaitingHeader = state { return true }
        return false
    }

    /// Consumes bytes from `input` and returns the next event, or nil when more bytes are
    /// needed. Call again until it returns nil: several frames may be in one read.
    mutating func next(_ input: inout ByteBuffer) throws(ProtocolViolation) -> Event? {
        while true {
            switch state {
            case .awaitingHeader:
                guard let header = try readHeader(&input) else { return nil }
                if header.opcode == .text, header.fin, !header.rsv1, header.length > 0,
                   header.length <= configuration.directTextLimit, input.readableBytes >= header.length {
                    return .text(try readText(header, from: &input))
                }
                if header.length == 0 {
                    if let event = try finishFrame(header) { return event }
                    continue
                }
                prepareTarget(for: header, available: input.readableBytes)
                state = .readingPayload(header, remaining: header.length, offset: 0)

            case .readingPayload(let header, let remaining, let offset):
                let n = min(remaining, input.readableBytes)
                if n == 0 { return nil }
                try consumePayload(header, from: &input, count: n, offset: offset)
                if remaining > n {
                    state = .readingPayload(header, remaining: remaining - n, offset: offset + n)
                    return nil
                }
                state = .awaitingHeader
                if let event = try finishFrame(header) { return event }
            }
        }
    }

    // MARK: - Header

    private mutating func readHeader(_ input: inout ByteBuffer) throws(ProtocolViolation) -> FrameHeader? {
        let available = input.readableBytes
        guard available >= 2,
              let b0 = input.getInteger(at: input.readerIndex, as: UInt8.self),
              let b1 = input.getInteger(at: input.readerIndex + 1, as: UInt8.self)
        else { return nil }

        let masked = b1 & 0x80 != 0
        let shortLength = Int(b1 & 0x7F)
        let lengthBytes = shortLength == 126 ? 2 : (shortLength == 127 ? 8 : 0)
        let headerLength = 2 + lengthBytes + (masked ? 4 : 0)
        guard available >= headerLength else { return nil }

        // Validate before consuming anything, on the first two bytes alone.
        guard b0 & 0x30 == 0 else { throw ProtocolViolation(.protocolError, "reserved bits RSV2/RSV3 set") }
        guard let opcode = Opcode(rawValue: b0 & 0x0F) else {
            throw ProtocolViolation(.protocolError, "reserved opcode \(b0 & 0x0F)")
        }
        let fin = b0 & 0x80 != 0
        let rsv1 = b0 & 0x40 != 0
        guard masked == configuration.expectMasked else {
            throw ProtocolViolation(.protocolError, configuration.expectMasked ? "client frame not masked" : "server frame masked")
        }
        if opcode.isControl {
            guard fin else { throw ProtocolViolation(.protocolError, "fragmented control frame") }
            guard shortLength <= 125 else { throw ProtocolViolation(.protocolError, "control frame payload over 125 bytes") }
            guard !rsv1 else { throw ProtocolViolation(.protocolError, "RSV1 set on a control frame") }
        } else if opcode == .continuation {
            guard messageOpcode != nil else { throw ProtocolViolation(.protocolError, "continuation frame without a message to continue") }
            guard !rsv1 else { throw ProtocolViolation(.protocolError, "RSV1 set on a continuation frame") }
        } else {
            guard messageOpcode == nil else { throw ProtocolViolation(.protocolError, "new data frame before the fragmented message ended") }
            guard !rsv1 || configuration.compressionNegotiated else {
                throw ProtocolViolation(.protocolError, "RSV1 set without a negotiated extension")
            }
        }

        input.moveReaderIndex(forwardBy: 2)
        var length = shortLength
        if lengthBytes == 2 {
            length = Int(input.readInteger(as: UInt16.self)!)
        } else if lengthBytes == 8 {
            let long = input.readInteger(as: UInt64.self)!
            guard long & (1 << 63) == 0 else { throw ProtocolViolation(.protocolError, "payload length with the most significant bit set") }
            guard long <= UInt64(configuration.maxMessageSize) else {
                throw ProtocolViolation(.messageTooBig, "frame of \(long) bytes exceeds the limit of \(configuration.maxMessageSize)")
            }
            length = Int(long)
        }
        var mask: MaskingKey?
        if masked {
            let (k0, k1, k2, k3) = input.readMultipleIntegers(as: (UInt8, UInt8, UInt8, UInt8).self)!
            mask = MaskingKey(k0, k1, k2, k3)
        }
        if !opcode.isControl {
            let soFar = opcode == .continuation ? message.readableBytes : 0
            // Compressed payloads are checked again after inflation (bomb protection).
            guard length <= configuration.maxMessageSize - soFar else {
                throw ProtocolViolation(.messageTooBig, "message exceeds the limit of \(configuration.maxMessageSize) bytes")
            }
            if opcode != .continuation {
                messageOpcode = opcode
                messageCompressed = rsv1
                fragments = 0
                utf8.reset()
            }
            fragments += 1
            guard fragments <= configuration.maxFragments else {
                throw ProtocolViolation(.messageTooBig, "message in more than \(configuration.maxFragments) fragments")
            }
        }
        return FrameHeader(fin: fin, rsv1: rsv1, opcode: opcode, mask: mask, length: length)
    }

    // MARK: - Payload

    /// A whole single-frame text message, unmasked into the string's own storage and
    /// validated there.
    private mutating func readText(_ header: FrameHeader, from input: inout ByteBuffer) throws(ProtocolViolation) -> String {
        let count = header.length
        var valid = true
        let text = input.withUnsafeReadableBytes { source in
            String(unsafeUninitializedCapacity: count) { destination in
                let target = UnsafeMutableRawPointer(destination.baseAddress!)
                if let mask = header.mask {
                    mask.apply(source: source.baseAddress!, destination: target, count: count)
                } else {
                    target.copyMemory(from: source.baseAddress!, byteCount: count)
                }
                valid = UTF8Validator.isValid(UnsafeRawBufferPointer(destination))
                return count
            }
        }
        guard valid else { throw ProtocolViolation(.invalidFramePayloadData, "invalid UTF-8 in text message") }
        input.moveReaderIndex(forwardBy: count)
        messageOpcode = nil
        return text
    }

    /// Payload bytes reserved ahead of their arrival: a header only announces a length, so
    /// the buffer grows as bytes come (a peer that sends headers alone holds next to nothing).
    static let initialReservation = 64 * 1024

    private mutating func prepareTarget(for header: FrameHeader, available: Int) {
        if header.opcode.isControl {
            control.clear()
        } else if header.opcode != .continuation {
            // First frame of a message: size the buffer for what has arrived (most messages
            // are one frame and arrive whole), never for more than is announced, with room
            // for the 4-byte tail inflation appends to a compressed message.
            let expected = min(header.length, max(available, Self.initialReservation))
            message = ByteBufferAllocator().buffer(capacity: expected + (header.rsv1 ? 4 : 0))
        }
    }

    /// Bytes of the data message being assembled (counted against the server's memory budget).
    var bufferedMessageBytes: Int { message.readableBytes }
    /// Bytes reserved for the message being assembled (tests check nothing is reserved ahead).
    var reservedMessageBytes: Int { message.capacity }

    private mutating func consumePayload(
        _ header: FrameHeader, from input: inout ByteBuffer, count: Int, offset: Int
    ) throws(ProtocolViolation) {
        let isControl = header.opcode.isControl
        let start: Int
        if isControl {
            start = control.writerIndex
            Self.copy(from: &input, into: &control, count: count, mask: header.mask, offset: offset)
        } else {
            start = message.writerIndex
            Self.copy(from: &input, into: &message, count: count, mask: header.mask, offset: offset)
            if messageOpcode == .text && !messageCompressed {
                let valid = message.withUnsafeReadableBytes { all in
                    utf8.validate(UnsafeRawBufferPointer(rebasing: all[(start - message.readerIndex)...]))
                }
                guard valid else { throw ProtocolViolation(.invalidFramePayloadData, "invalid UTF-8 in text message") }
            }
        }
    }

    private static func copy(from input: inout ByteBuffer, into target: inout ByteBuffer, count: Int, mask: MaskingKey?, offset: Int) {
        guard let mask else {
            var slice = input.readSlice(length: count)!
            target.writeBuffer(&slice)
            return
        }
        target.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { destination in
            input.withUnsafeReadableBytes { source in
                mask.apply(source: source.baseAddress!, destination: destination.baseAddress!, count: count, keyOffset: offset)
            }
            return count
        }
        input.moveReaderIndex(forwardBy: count)
    }

    // MARK: - Frame end

    private mutating func finishFrame(_ header: FrameHeader) throws(ProtocolViolation) -> Event? {
        switch header.opcode {
        case .ping:
            return .ping(control)
        case .pong:
            return .pong(control)
        case .close:
            let (code, reason) = try Self.parseClosePayload(control)
            return .close(code, reason)
        case .text, .binary, .continuation:
            guard header.fin, let opcode = messageOpcode else { return nil }
            if opcode == .text && !messageCompressed {
                guard utf8.isComplete else { throw ProtocolViolation(.invalidFramePayloadData, "text message ends inside a UTF-8 sequence") }
            }
            let complete = message
            let compressed = messageCompressed
            message = ByteBuffer()
            messageOpcode = nil
            messageCompressed = false
            return .message(opcode, complete, compressed: compressed)
        }
    }

    /// Reads a close frame's payload: an optional 2-byte code and a UTF-8 reason.
    static func parseClosePayload(_ payload: ByteBuffer) throws(ProtocolViolation) -> (CloseCode, String) {
        switch payload.readableBytes {
        case 0:
            return (.noStatusReceived, "")
        case 1:
            throw ProtocolViolation(.protocolError, "close frame with a 1-byte payload")
        default:
            let code = CloseCode(payload.getInteger(at: payload.readerIndex, as: UInt16.self)!)
            guard code.isValidOnWire else { throw ProtocolViolation(.protocolError, "invalid close code \(code.rawValue)") }
            let valid = payload.withUnsafeReadableBytes { UTF8Validator.isValid(UnsafeRawBufferPointer(rebasing: $0.dropFirst(2))) }
            guard valid else { throw ProtocolViolation(.invalidFramePayloadData, "close reason is not valid UTF-8") }
            return (code, payload.getString(at: payload.readerIndex + 2, length: payload.readableBytes - 2) ?? "")
        }
    }
}
