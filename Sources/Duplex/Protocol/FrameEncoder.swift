import NIOCore

/// Writes frames (RFC 6455 §5.2): the header, then the payload, masked when a client sends.
enum FrameEncoder {
    /// Payloads up to this size are copied behind their header into one buffer (one
    /// write); larger ones are written as a separate buffer without a copy.
    static let copyThreshold = 4096

    static func headerLength(payloadLength: Int, masked: Bool) -> Int {
        let base = payloadLength < 126 ? 2 : (payloadLength <= 0xFFFF ? 4 : 10)
        return masked ? base + 4 : base
    }

    static func writeHeader(
        into buffer: inout ByteBuffer, opcode: Opcode, fin: Bool = true, rsv1: Bool = false,
        length: Int, mask: MaskingKey?
    ) {
        var b0 = opcode.rawValue
        if fin { b0 |= 0x80 }
        if rsv1 { b0 |= 0x40 }
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        if length < 126 {
            buffer.writeMultipleIntegers(b0, UInt8(length) | maskBit)
        } else if length <= 0xFFFF {
            buffer.writeMultipleIntegers(b0, 126 | maskBit, UInt16(length))
        } else {
            buffer.writeMultipleIntegers(b0, 127 | maskBit, UInt64(length))
        }
        if let mask {
            buffer.writeMultipleIntegers(mask.b0, mask.b1, mask.b2, mask.b3)
        }
    }

    /// One buffer holding a whole frame whose payload is `payload`'s readable bytes.
    static func frame(
        opcode: Opcode, payload: ByteBuffer, fin: Bool = true, rsv1: Bool = false,
        mask: MaskingKey?, allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let length = payload.readableBytes
        var buffer = allocator.buffer(capacity: headerLength(payloadLength: length, masked: mask != nil) + length)
        writeHeader(into: &buffer, opcode: opcode, fin: fin, rsv1: rsv1, length: length, mask: mask)
        appendPayload(payload, to: &buffer, mask: mask)
        return buffer
    }

    /// One buffer holding a whole text frame: the string's UTF-8 goes straight behind the header.
    static func textFrame(_ text: String, mask: MaskingKey?, allocator: ByteBufferAllocator) -> ByteBuffer {
        let length = text.utf8.count
        var buffer = allocator.buffer(capacity: headerLength(payloadLength: length, masked: mask != nil) + length)
        writeHeader(into: &buffer, opcode: .text, length: length, mask: mask)
        let start = buffer.writerIndex
        buffer.writeString(text)
        if let mask { maskInPlace(&buffer, from: start, count: length, mask: mask) }
        return buffer
    }

    /// A text frame whose payload is one ASCII byte followed by `text` (a protocol's type
    /// prefix), without building the joined string.
    static func textFrame(_ text: String, prefix: UInt8, mask: MaskingKey?, allocator: ByteBufferAllocator) -> ByteBuffer {
        let length = text.utf8.count + 1
        var buffer = allocator.buffer(capacity: headerLength(payloadLength: length, masked: mask != nil) + length)
        writeHeader(into: &buffer, opcode: .text, length: length, mask: mask)
        let start = buffer.writerIndex
        buffer.writeInteger(prefix)
        buffer.writeString(text)
        if let mask { maskInPlace(&buffer, from: start, count: length, mask: mask) }
        return buffer
    }

    /// A close frame: code and a reason cut to fit the 125-byte control payload limit
    /// (at a character boundary).
    static func closeFrame(code: CloseCode?, reason: String, mask: MaskingKey?, allocator: ByteBufferAllocator) -> ByteBuffer {
        var payload = allocator.buffer(capacity: 125)
        if let code, code != .noStatusReceived {
            payload.writeInteger(code.rawValue)
            var bytes = 0
            var cut = reason.startIndex
            for scalarIndex in reason.unicodeScalars.indices {
                let size = String(reason.unicodeScalars[scalarIndex]).utf8.count
                if bytes + size > 123 { break }
                bytes += size
                cut = reason.unicodeScalars.index(after: scalarIndex)
            }
            payload.writeString(String(reason[..<cut]))
        }
        return frame(opcode: .close, payload: payload, mask: mask, allocator: allocator)
    }

    static func appendPayload(_ payload: ByteBuffer, to buffer: inout ByteBuffer, mask: MaskingKey?) {
        let start = buffer.writerIndex
        var copy = payload
        buffer.writeBuffer(&copy)
        if let mask { maskInPlace(&buffer, from: start, count: payload.readableBytes, mask: mask) }
    }

    static func maskInPlace(_ buffer: inout ByteBuffer, from index: Int, count: Int, mask: MaskingKey) {
        guard count > 0 else { return }
        let offset = index - buffer.readerIndex
        buffer.withUnsafeMutableReadableBytes { bytes in
            let base = bytes.baseAddress! + offset
            mask.apply(source: UnsafeRawPointer(base), destination: base, count: count)
        }
    }
}
