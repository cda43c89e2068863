import NIOCore

extension JSONValue {
    /// The compact JSON text of this value (no whitespace, keys in order).
    /// `binary` values are written as base64 strings.
    public func serialized() -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        JSONSerializer.write(self, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the compact JSON text of this value to `buffer`.
    /// `binary` values are written as base64 strings.
    public func serialize(into buffer: inout ByteBuffer) {
        JSONSerializer.write(self, to: &buffer)
    }
}

/// Where the serializer writes bytes: a `[UInt8]` (then turned into a String)
/// or a `ByteBuffer` (written straight to the wire).
internal protocol JSONOutput {
    mutating func appendByte(_ byte: UInt8)
    mutating func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>)
}

extension Array: JSONOutput where Element == UInt8 {
    @inline(__always)
    mutating func appendByte(_ byte: UInt8) { append(byte) }

    @inline(__always)
    mutating func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>) { append(contentsOf: bytes) }
}

extension ByteBuffer: JSONOutput {
    @inline(__always)
    mutating func appendByte(_ byte: UInt8) { writeInteger(byte) }

    @inline(__always)
    mutating func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>) { writeBytes(UnsafeRawBufferPointer(bytes)) }
}

extension JSONOutput {
    @inline(__always)
    mutating func appendStatic(_ string: StaticString) {
        appendBytes(UnsafeBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount))
    }

    mutating func appendUTF8(of string: String) {
        var string = string
        string.withUTF8 { appendBytes($0) }
    }
}

/// Compact JSON serialization, optionally pulling `binary` values out into
/// Socket.IO attachments (replaced by `{"_placeholder":true,"num":N}`, numbered
/// in document order, depth first, as the reference encoder numbers them).
internal enum JSONSerializer {
    static func write<Output: JSONOutput>(_ value: JSONValue, to output: inout Output) {
        var attachments: [ByteBuffer] = []
        write(value, to: &output, attachments: &attachments, extract: false)
    }

    static func write<Output: JSONOutput>(
        _ value: JSONValue,
        to output: inout Output,
        extractingAttachmentsInto attachments: inout [ByteBuffer]
    ) {
        write(value, to: &output, attachments: &attachments, extract: true)
    }

    private static func write<Output: JSONOutput>(
        _ value: JSONValue,
        to output: inout Output,
        attachments: inout [ByteBuffer],
        extract: Bool
    ) {
        switch value {
        case .null:
            output.appendStatic("null")
        case .bool(let flag):
            output.appendStatic(flag ? "true" : "false")
        case .number(let number):
            writeNumber(number, to: &output)
        case .string(let string):
            writeString(string, to: &output)
        case .binary(let buffer):
            if extract {
                output.appendStatic("{\"_placeholder\":true,\"num\":")
                writeInteger(Int64(attachments.count), to: &output)
                output.appendByte(UInt8(ascii: "}"))
                attachments.append(buffer)
            } else {
                output.appendByte(UInt8(ascii: "\""))
                Base64.encode(buffer, to: &output)
                output.appendByte(UInt8(ascii: "\""))
            }
        case .array(let elements):
            output.appendByte(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { output.appendByte(UInt8(ascii: ",")) }
                first = false
                write(element, to: &output, attachments: &attachments, extract: extract)
            }
            output.appendByte(UInt8(ascii: "]"))
        case .object(let object):
            output.appendByte(UInt8(ascii: "{"))
            var first = true
            for (key, member) in object {
                if !first { output.appendByte(UInt8(ascii: ",")) }
                first = false
                writeString(key, to: &output)
                output.appendByte(UInt8(ascii: ":"))
                write(member, to: &output, attachments: &attachments, extract: extract)
            }
            output.appendByte(UInt8(ascii: "}"))
        }
    }

    /// Numbers as JavaScript prints them where it matters: integral values
    /// without a fraction, and NaN/infinity (which JSON lacks) as `null`,
    /// like `JSON.stringify`.
    static func writeNumber<Output: JSONOutput>(_ number: Double, to output: inout Output) {
        guard number.isFinite else {
            output.appendStatic("null")
            return
        }
        // Below 1e18 every integral Double fits an Int64 exactly.
        if number.rounded(.towardZero) == number && abs(number) < 1e18 {
            writeInteger(Int64(number), to: &output)
            return
        }
        // Swift's shortest round-trip form (`0.1`, `1e-07`, `1e+21`) is valid JSON.
        output.appendUTF8(of: number.description)
    }

    static func writeInteger<Output: JSONOutput>(_ value: Int64, to output: inout Output) {
        // Digits into a small stack tuple: no String allocation per number.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes > 20 digits + sign
        let count = withUnsafeMutableBytes(of: &digits) { raw -> Int in
            var magnitude = value.magnitude
            var position = raw.count
            repeat {
                position -= 1
                raw[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                position -= 1
                raw[position] = UInt8(ascii: "-")
            }
            // Move the digits to the front so the caller can slice from 0.
            let length = raw.count - position
            for offset in 0..<length {
                raw[offset] = raw[position + offset]
            }
            return length
        }
        withUnsafeBytes(of: &digits) { raw in
            output.appendBytes(UnsafeBufferPointer(rebasing: raw.assumingMemoryBound(to: UInt8.self)[0..<count]))
        }
    }

    /// Writes a quoted string, escaping `"`, `\` and control characters.
    /// Everything else, non-BMP characters included, is written as UTF-8.
    static func writeString<Output: JSONOutput>(_ string: String, to output: inout Output) {
        output.appendByte(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            var runStart = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else {
                    continue
                }
                if runStart < index {
                    output.appendBytes(UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                }
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): output.appendStatic("\\\"")
                case UInt8(ascii: "\\"): output.appendStatic("\\\\")
                case 0x08: output.appendStatic("\\b")
                case 0x0C: output.appendStatic("\\f")
                case 0x0A: output.appendStatic("\\n")
                case 0x0D: output.appendStatic("\\r")
                case 0x09: output.appendStatic("\\t")
                default:
                    output.appendStatic("\\u00")
                    output.appendByte(hexDigit(byte >> 4))
                    output.appendByte(hexDigit(byte & 0x0F))
                }
            }
            if runStart < bytes.count {
                output.appendBytes(UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
            }
        }
        output.appendByte(UInt8(ascii: "\""))
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}
