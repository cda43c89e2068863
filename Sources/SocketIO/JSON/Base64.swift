import NIOCore

/// Standard base64 (RFC 4648 §4), for Engine.IO's `b<base64>` polling packets
/// and for `binary` values serialized as plain JSON.
internal enum Base64 {
    private static let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    /// 0...63 for an alphabet byte, 0xFF otherwise.
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        let start = alphabet.utf8Start
        for index in 0..<64 {
            table[Int(start[index])] = UInt8(index)
        }
        return table
    }()

    static func encodedLength(of byteCount: Int) -> Int {
        (byteCount + 2) / 3 * 4
    }

    static func encode(_ buffer: ByteBuffer) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encodedLength(of: buffer.readableBytes))
        encode(buffer, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the padded base64 text of the readable bytes of `buffer`.
    static func encode<Output: JSONOutput>(_ buffer: ByteBuffer, to output: inout Output) {
        buffer.withUnsafeReadableBytes { raw in
            let symbols = alphabet.utf8Start
            // Encode in chunks through a stack buffer to keep writes large.
            var chunk: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
            withUnsafeMutableBytes(of: &chunk) { scratch in
                var filled = 0
                func flush() {
                    output.appendBytes(UnsafeBufferPointer(rebasing: scratch.assumingMemoryBound(to: UInt8.self)[0..<filled]))
                    filled = 0
                }
                var index = 0
                let count = raw.count
                while index + 3 <= count {
                    let value = UInt32(raw[index]) << 16 | UInt32(raw[index + 1]) << 8 | UInt32(raw[index + 2])
                    scratch[filled] = symbols[Int(value >> 18 & 0x3F)]
                    scratch[filled + 1] = symbols[Int(value >> 12 & 0x3F)]
                    scratch[filled + 2] = symbols[Int(value >> 6 & 0x3F)]
                    scratch[filled + 3] = symbols[Int(value & 0x3F)]
                    filled += 4
                    if filled == scratch.count { flush() }
                    index += 3
                }
                let remaining = count - index
                if remaining > 0 {
                    let second = remaining == 2 ? UInt32(raw[index + 1]) : 0
                    let value = UInt32(raw[index]) << 16 | second << 8
                    scratch[filled] = symbols[Int(value >> 18 & 0x3F)]
                    scratch[filled + 1] = symbols[Int(value >> 12 & 0x3F)]
                    scratch[filled + 2] = remaining == 2 ? symbols[Int(value >> 6 & 0x3F)] : UInt8(ascii: "=")
                    scratch[filled + 3] = UInt8(ascii: "=")
                    filled += 4
                }
                if filled > 0 { flush() }
            }
        }
    }

    /// Decodes base64 text, with or without `=` padding. Returns `nil` for
    /// bytes outside the alphabet, misplaced padding or an impossible length.
    static func decode(_ text: UnsafeBufferPointer<UInt8>, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer? {
        var length = text.count
        // Padding is optional, but when present it must complete a 4-byte group.
        if length > 0 && text[length - 1] == UInt8(ascii: "=") {
            guard length % 4 == 0 else { return nil }
            length -= 1
            if text[length - 1] == UInt8(ascii: "=") { length -= 1 }
        }
        // A group of one symbol carries fewer than 8 bits: never valid.
        guard length % 4 != 1 else { return nil }

        var output = allocator.buffer(capacity: length / 4 * 3 + 2)
        let table = decodeTable
        var accumulator: UInt32 = 0
        var pending = 0
        for index in 0..<length {
            let value = table[Int(text[index])]
            guard value != 0xFF else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            pending += 1
            if pending == 4 {
                output.writeInteger(UInt8(truncatingIfNeeded: accumulator >> 16))
                output.writeInteger(UInt8(truncatingIfNeeded: accumulator >> 8))
                output.writeInteger(UInt8(truncatingIfNeeded: accumulator))
                accumulator = 0
                pending = 0
            }
        }
        switch pending {
        case 2:
            // 12 bits: one byte; the 4 low bits must be zero in canonical text,
            // but decoders (browsers included) ignore them, and so do we.
            output.writeInteger(UInt8(truncatingIfNeeded: accumulator >> 4))
        case 3:
            output.writeInteger(UInt8(truncatingIfNeeded: accumulator >> 10))
            output.writeInteger(UInt8(truncatingIfNeeded: accumulator >> 2))
        default:
            break
        }
        return output
    }

    static func decode(_ text: String) -> ByteBuffer? {
        var text = text
        return text.withUTF8 { decode($0) }
    }
}
