import NIOCore

extension MessagePackValue {
    /// How deep arrays and maps may nest by default.
    public static let defaultMaxDepth = 64

    /// Decodes exactly one value: the whole buffer, nothing after it.
    ///
    /// Nothing is allocated on a length prefix's word alone: strings and binaries are
    /// checked against the bytes present before they are read, and an array or map
    /// reserves at most one slot per byte left (every element takes at least one).
    public init(decoding buffer: ByteBuffer, maxDepth: Int = MessagePackValue.defaultMaxDepth) throws(MessagePackError) {
        var reader = MessagePackReader(buffer: buffer, maxDepth: maxDepth)
        self = try reader.readValue(depth: 0)
        guard reader.buffer.readableBytes == 0 else {
            throw MessagePackError(.trailingBytes, offset: reader.offset)
        }
    }

    public init(decoding bytes: some Collection<UInt8>, maxDepth: Int = MessagePackValue.defaultMaxDepth) throws(MessagePackError) {
        try self.init(decoding: ByteBuffer(bytes: bytes), maxDepth: maxDepth)
    }
}

/// Reads values off a buffer, front to back.
struct MessagePackReader {
    var buffer: ByteBuffer
    let start: Int
    let maxDepth: Int

    init(buffer: ByteBuffer, maxDepth: Int) {
        self.buffer = buffer
        self.start = buffer.readerIndex
        self.maxDepth = maxDepth
    }

    var offset: Int { buffer.readerIndex - start }

    private mutating func read<T: FixedWidthInteger>(_: T.Type) throws(MessagePackError) -> T {
        guard let value = buffer.readInteger(as: T.self) else { throw MessagePackError(.truncated, offset: offset) }
        return value
    }

    private mutating func readBytes(_ count: Int) throws(MessagePackError) -> ByteBuffer {
        guard let slice = buffer.readSlice(length: count) else { throw MessagePackError(.truncated, offset: offset) }
        return slice
    }

    private mutating func readString(_ count: Int) throws(MessagePackError) -> MessagePackValue {
        let at = offset
        let bytes = try readBytes(count)
        guard let string = bytes.withUnsafeReadableBytes({ String(validating: $0, as: UTF8.self) }) else {
            throw MessagePackError(.invalidUTF8, offset: at)
        }
        return .string(string)
    }

    private mutating func readExt(_ count: Int) throws(MessagePackError) -> MessagePackValue {
        let type = try read(Int8.self)
        return .ext(type: type, data: try readBytes(count))
    }

    private mutating func readArray(_ count: Int, depth: Int) throws(MessagePackError) -> MessagePackValue {
        guard depth < maxDepth else { throw MessagePackError(.tooDeep, offset: offset) }
        var elements: [MessagePackValue] = []
        elements.reserveCapacity(min(count, buffer.readableBytes))
        for _ in 0..<count { elements.append(try readValue(depth: depth + 1)) }
        return .array(elements)
    }

    private mutating func readMap(_ count: Int, depth: Int) throws(MessagePackError) -> MessagePackValue {
        guard depth < maxDepth else { throw MessagePackError(.tooDeep, offset: offset) }
        var pairs: [(key: MessagePackValue, value: MessagePackValue)] = []
        pairs.reserveCapacity(min(count, buffer.readableBytes / 2))
        for _ in 0..<count {
            let key = try readValue(depth: depth + 1)
            pairs.append((key, try readValue(depth: depth + 1)))
        }
        return .map(pairs)
    }

    mutating func readValue(depth: Int) throws(MessagePackError) -> MessagePackValue {
        let at = offset
        let byte = try read(UInt8.self)
        switch byte {
        case 0x00...0x7f: return .uint(UInt64(byte))
        case 0x80...0x8f: return try readMap(Int(byte & 0x0f), depth: depth)
        case 0x90...0x9f: return try readArray(Int(byte & 0x0f), depth: depth)
        case 0xa0...0xbf: return try readString(Int(byte & 0x1f))
        case 0xc0: return .nil
        case 0xc2: return .bool(false)
        case 0xc3: return .bool(true)
        case 0xc4: return .binary(try readBytes(Int(try read(UInt8.self))))
        case 0xc5: return .binary(try readBytes(Int(try read(UInt16.self))))
        case 0xc6: return .binary(try readBytes(Int(try read(UInt32.self))))
        case 0xc7: return try readExt(Int(try read(UInt8.self)))
        case 0xc8: return try readExt(Int(try read(UInt16.self)))
        case 0xc9: return try readExt(Int(try read(UInt32.self)))
        case 0xca: return .float(Double(Float(bitPattern: try read(UInt32.self))))
        case 0xcb: return .float(Double(bitPattern: try read(UInt64.self)))
        case 0xcc: return .uint(UInt64(try read(UInt8.self)))
        case 0xcd: return .uint(UInt64(try read(UInt16.self)))
        case 0xce: return .uint(UInt64(try read(UInt32.self)))
        case 0xcf: return .uint(try read(UInt64.self))
        case 0xd0: return .int(Int64(try read(Int8.self)))
        case 0xd1: return .int(Int64(try read(Int16.self)))
        case 0xd2: return .int(Int64(try read(Int32.self)))
        case 0xd3: return .int(try read(Int64.self))
        case 0xd4: return try readExt(1)
        case 0xd5: return try readExt(2)
        case 0xd6: return try readExt(4)
        case 0xd7: return try readExt(8)
        case 0xd8: return try readExt(16)
        case 0xd9: return try readString(Int(try read(UInt8.self)))
        case 0xda: return try readString(Int(try read(UInt16.self)))
        case 0xdb: return try readString(Int(try read(UInt32.self)))
        case 0xdc: return try readArray(Int(try read(UInt16.self)), depth: depth)
        case 0xdd: return try readArray(Int(try read(UInt32.self)), depth: depth)
        case 0xde: return try readMap(Int(try read(UInt16.self)), depth: depth)
        case 0xdf: return try readMap(Int(try read(UInt32.self)), depth: depth)
        case 0xe0...0xff: return .int(Int64(Int8(bitPattern: byte)))
        default: throw MessagePackError(.invalidByte(byte), offset: at)
        }
    }
}
