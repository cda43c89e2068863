import NIOCore

extension MessagePackValue {
    /// The value's bytes.
    public func encoded() -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer)
        return buffer
    }

    /// Appends the value, each integer in its shortest form.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .nil:
            buffer.writeInteger(UInt8(0xc0))
        case .bool(let value):
            buffer.writeInteger(UInt8(value ? 0xc3 : 0xc2))
        case .int(let value):
            if value >= 0 {
                Self.writeUnsigned(UInt64(value), into: &buffer)
            } else {
                Self.writeNegative(value, into: &buffer)
            }
        case .uint(let value):
            Self.writeUnsigned(value, into: &buffer)
        case .float(let value):
            buffer.writeInteger(UInt8(0xcb))
            buffer.writeInteger(value.bitPattern)
        case .string(let value):
            let count = value.utf8.count
            switch count {
            case ..<32: buffer.writeInteger(UInt8(0xa0) | UInt8(count))
            case ..<0x100: buffer.writeInteger(UInt8(0xd9)); buffer.writeInteger(UInt8(count))
            case ..<0x1_0000: buffer.writeInteger(UInt8(0xda)); buffer.writeInteger(UInt16(count))
            default: buffer.writeInteger(UInt8(0xdb)); buffer.writeInteger(UInt32(count))
            }
            buffer.writeString(value)
        case .binary(let bytes):
            let count = bytes.readableBytes
            switch count {
            case ..<0x100: buffer.writeInteger(UInt8(0xc4)); buffer.writeInteger(UInt8(count))
            case ..<0x1_0000: buffer.writeInteger(UInt8(0xc5)); buffer.writeInteger(UInt16(count))
            default: buffer.writeInteger(UInt8(0xc6)); buffer.writeInteger(UInt32(count))
            }
            buffer.writeImmutableBuffer(bytes)
        case .array(let elements):
            Self.writeHeader(count: elements.count, fix: 0x90, short: 0xdc, long: 0xdd, into: &buffer)
            for element in elements { element.encode(into: &buffer) }
        case .map(let pairs):
            Self.writeHeader(count: pairs.count, fix: 0x80, short: 0xde, long: 0xdf, into: &buffer)
            for pair in pairs {
                pair.key.encode(into: &buffer)
                pair.value.encode(into: &buffer)
            }
        case .ext(let type, let data):
            let count = data.readableBytes
            switch count {
            case 1: buffer.writeInteger(UInt8(0xd4))
            case 2: buffer.writeInteger(UInt8(0xd5))
            case 4: buffer.writeInteger(UInt8(0xd6))
            case 8: buffer.writeInteger(UInt8(0xd7))
            case 16: buffer.writeInteger(UInt8(0xd8))
            case ..<0x100: buffer.writeInteger(UInt8(0xc7)); buffer.writeInteger(UInt8(count))
            case ..<0x1_0000: buffer.writeInteger(UInt8(0xc8)); buffer.writeInteger(UInt16(count))
            default: buffer.writeInteger(UInt8(0xc9)); buffer.writeInteger(UInt32(count))
            }
            buffer.writeInteger(type)
            buffer.writeImmutableBuffer(data)
        }
    }

    private static func writeUnsigned(_ value: UInt64, into buffer: inout ByteBuffer) {
        switch value {
        case ..<0x80: buffer.writeInteger(UInt8(value))
        case ..<0x100: buffer.writeInteger(UInt8(0xcc)); buffer.writeInteger(UInt8(value))
        case ..<0x1_0000: buffer.writeInteger(UInt8(0xcd)); buffer.writeInteger(UInt16(value))
        case ..<0x1_0000_0000: buffer.writeInteger(UInt8(0xce)); buffer.writeInteger(UInt32(value))
        default: buffer.writeInteger(UInt8(0xcf)); buffer.writeInteger(value)
        }
    }

    private static func writeNegative(_ value: Int64, into buffer: inout ByteBuffer) {
        switch value {
        case Int64(-32)...: buffer.writeInteger(Int8(value))
        case Int64(Int8.min)...: buffer.writeInteger(UInt8(0xd0)); buffer.writeInteger(Int8(value))
        case Int64(Int16.min)...: buffer.writeInteger(UInt8(0xd1)); buffer.writeInteger(Int16(value))
        case Int64(Int32.min)...: buffer.writeInteger(UInt8(0xd2)); buffer.writeInteger(Int32(value))
        default: buffer.writeInteger(UInt8(0xd3)); buffer.writeInteger(value)
        }
    }

    private static func writeHeader(count: Int, fix: UInt8, short: UInt8, long: UInt8, into buffer: inout ByteBuffer) {
        switch count {
        case ..<16: buffer.writeInteger(fix | UInt8(count))
        case ..<0x1_0000: buffer.writeInteger(short); buffer.writeInteger(UInt16(count))
        default: buffer.writeInteger(long); buffer.writeInteger(UInt32(count))
        }
    }
}
