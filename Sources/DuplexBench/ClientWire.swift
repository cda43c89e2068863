import NIOCore

/// The few bytes a WebSocket client puts on the wire: the upgrade request and masked frames.
///
/// The load generator never frames a message on the hot path from scratch: fixed messages are
/// framed and masked once (`maskedFrame`) and the same buffer is written again and again;
/// messages with a varying head (a timestamp, an ack id) mask only that head per message.
enum ClientWire {
    /// The key every request carries, and the accept value RFC 6455 §1.3 derives from it.
    /// A fixed nonce keeps the handshake free of hashing; servers cannot tell the difference.
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    static let expectedAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    /// The masking key of every frame the generator sends.
    static let maskKey: (UInt8, UInt8, UInt8, UInt8) = (0x37, 0xfa, 0x21, 0x3d)

    static func maskByte(_ byte: UInt8, at position: Int) -> UInt8 {
        switch position & 3 {
        case 0: return byte ^ maskKey.0
        case 1: return byte ^ maskKey.1
        case 2: return byte ^ maskKey.2
        default: return byte ^ maskKey.3
        }
    }

    static func upgradeRequest(host: String, port: Int, path: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        buffer.writeString(
            "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n")
        return buffer
    }

    /// Writes a frame header with the mask bit and the masking key.
    static func writeHeader(into buffer: inout ByteBuffer, opcode: UInt8, length: Int) {
        buffer.writeInteger(0x80 | opcode)
        if length <= 125 {
            buffer.writeInteger(0x80 | UInt8(length))
        } else if length <= 0xFFFF {
            buffer.writeInteger(UInt8(0x80 | 126))
            buffer.writeInteger(UInt16(length))
        } else {
            buffer.writeInteger(UInt8(0x80 | 127))
            buffer.writeInteger(UInt64(length))
        }
        buffer.writeMultipleIntegers(maskKey.0, maskKey.1, maskKey.2, maskKey.3)
    }

    static func headerLength(payloadLength length: Int) -> Int {
        (length <= 125 ? 2 : length <= 0xFFFF ? 4 : 10) + 4
    }

    /// A complete masked frame.
    static func maskedFrame(opcode: UInt8, payload: some Collection<UInt8>, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: headerLength(payloadLength: payload.count) + payload.count)
        writeHeader(into: &buffer, opcode: opcode, length: payload.count)
        appendMasked(payload, startingAt: 0, into: &buffer)
        return buffer
    }

    /// Appends `bytes` masked as if they started at payload offset `position`.
    static func appendMasked(_ bytes: some Collection<UInt8>, startingAt position: Int, into buffer: inout ByteBuffer) {
        var position = position
        for byte in bytes {
            buffer.writeInteger(maskByte(byte, at: position))
            position += 1
        }
    }

    /// `count` bytes of filler, 'a'…'z' repeated (valid UTF-8 and a valid JSON string body).
    static func filler(count: Int, offset: Int = 0) -> [UInt8] {
        (0..<max(0, count)).map { UInt8(ascii: "a") + UInt8((offset + $0) % 26) }
    }

    /// Writes the low `digits` nibbles of `value` as lowercase hex, masked at payload `position`.
    static func appendMaskedHex(_ value: UInt64, digits: Int = 16, startingAt position: Int, into buffer: inout ByteBuffer) {
        var shift = (digits - 1) * 4
        var position = position
        while shift >= 0 {
            let nibble = UInt8((value >> UInt64(shift)) & 0xF)
            let digit = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
            buffer.writeInteger(maskByte(digit, at: position))
            position += 1
            shift -= 4
        }
    }

    /// Writes a decimal number masked at payload `position`; returns the digits written.
    @discardableResult
    static func appendMaskedDecimal(_ value: UInt64, startingAt position: Int, into buffer: inout ByteBuffer) -> Int {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            var position = position
            for index in stride(from: count - 1, through: 0, by: -1) {
                buffer.writeInteger(maskByte(raw[index], at: position))
                position += 1
            }
        }
        return count
    }

    static func decimalDigits(_ value: UInt64) -> Int {
        var count = 1
        var rest = value / 10
        while rest > 0 { count += 1; rest /= 10 }
        return count
    }
}

/// Parses `digits` lowercase hex digits (as written by `appendMaskedHex`) at `offset`.
func parseHex(_ bytes: UnsafeRawBufferPointer, at offset: Int, digits: Int = 16) -> UInt64? {
    guard offset >= 0, offset + digits <= bytes.count else { return nil }
    var value: UInt64 = 0
    for index in offset..<(offset + digits) {
        let c = bytes[index]
        let nibble: UInt8
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = c - UInt8(ascii: "a") + 10
        default: return nil
        }
        value = value << 4 | UInt64(nibble)
    }
    return value
}
