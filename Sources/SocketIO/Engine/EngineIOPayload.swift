import NIOCore

/// HTTP long-polling payloads: several packets in one body, separated by the
/// record separator `\x1e`; binary packets as `b<base64>`.
///
/// `4hello\x1e2\x1ebAQIDBA==` is a MESSAGE "hello", a PING and a binary
/// MESSAGE <01 02 03 04>.
public enum EngineIOPayload {
    /// The record separator between packets.
    public static let separator: UInt8 = 0x1E

    /// The size check for a polling body (`maxHttpBufferSize`). Call it as the
    /// body streams in (or with its Content-Length) to refuse an oversized
    /// request before buffering it all; `decode` calls it too.
    public static func checkSize(_ byteCount: Int, limit: Int) throws(EngineIOParserError) {
        if byteCount > limit {
            throw .payloadTooLarge(size: byteCount, limit: limit)
        }
    }

    /// Decodes a polling request body into its packets.
    ///
    /// - Parameters:
    ///   - body: the request body: packets separated by the record separator `\x1e`.
    ///   - maxBytes: the largest body accepted (`maxHttpBufferSize`); `nil` for no limit.
    ///   - maxPackets: the most packets accepted in one body; `nil` for no limit.
    public static func decode(
        _ body: ByteBuffer,
        maxBytes: Int? = nil,
        maxPackets: Int? = nil
    ) throws(EngineIOParserError) -> [EngineIOPacket] {
        if let maxBytes {
            try checkSize(body.readableBytes, limit: maxBytes)
        }
        let result = body.withUnsafeReadableBytes { raw in
            Result { () throws(EngineIOParserError) -> [EngineIOPacket] in
                let bytes = raw.assumingMemoryBound(to: UInt8.self)
                // One pass over the whole body; records split on an ASCII byte
                // stay valid UTF-8, so they need no second check.
                guard UTF8Validation.isValid(bytes) else { throw .invalidUTF8 }
                return try decodeRecords(bytes, maxPackets: maxPackets)
            }
        }
        return try result.get()
    }

    /// Decodes a polling body already held as a String.
    public static func decode(
        _ body: String,
        maxBytes: Int? = nil,
        maxPackets: Int? = nil
    ) throws(EngineIOParserError) -> [EngineIOPacket] {
        var body = body
        if let maxBytes {
            try checkSize(body.utf8.count, limit: maxBytes)
        }
        let result = body.withUTF8 { bytes in
            Result { () throws(EngineIOParserError) -> [EngineIOPacket] in
                try decodeRecords(bytes, maxPackets: maxPackets)
            }
        }
        return try result.get()
    }

    private static func decodeRecords(
        _ bytes: UnsafeBufferPointer<UInt8>,
        maxPackets: Int?
    ) throws(EngineIOParserError) -> [EngineIOPacket] {
        guard !bytes.isEmpty else { throw .emptyPacket }
        var packets: [EngineIOPacket] = []
        var start = 0
        while true {
            var end = start
            while end < bytes.count && bytes[end] != separator {
                end += 1
            }
            if let maxPackets, packets.count >= maxPackets {
                throw .tooManyPackets(limit: maxPackets)
            }
            let record = UnsafeBufferPointer(rebasing: bytes[start..<end])
            packets.append(try EngineIOPacket.decode(record, validatedUTF8: true))
            guard end < bytes.count else { return packets }
            start = end + 1
        }
    }

    /// Appends the polling encoding of `packets` to `buffer`.
    public static func encode(_ packets: some Sequence<EngineIOPacket>, into buffer: inout ByteBuffer) {
        var first = true
        for packet in packets {
            if !first {
                buffer.writeInteger(separator)
            }
            first = false
            packet.write(to: &buffer)
        }
    }

    /// The polling encoding of `packets` as a new buffer (a GET response body).
    public static func encode(
        _ packets: some Sequence<EngineIOPacket>,
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256)
        encode(packets, into: &buffer)
        return buffer
    }

    /// The polling encoding of `packets` as a String.
    public static func encodeToString(_ packets: some Sequence<EngineIOPacket>) -> String {
        let buffer = encode(packets)
        return String(buffer: buffer)
    }

    /// How many of `packets`, taken from the front, fit in one payload of at
    /// most `maxBytes` (always at least one, so a single large packet still
    /// goes out). Lets a server honour a client's `maxPayload` when it drains
    /// its queue into a GET response.
    public static func countFitting(_ packets: some Collection<EngineIOPacket>, maxBytes: Int) -> Int {
        var total = 0
        var count = 0
        for packet in packets {
            let size = packet.encodedByteCount + (count > 0 ? 1 : 0)
            if count > 0 && total + size > maxBytes {
                break
            }
            total += size
            count += 1
        }
        return count
    }
}

extension EngineIOPacket {
    /// The length in bytes of the polling (text) encoding of this packet.
    public var encodedByteCount: Int {
        switch body {
        case .text(let text):
            return 1 + text.utf8.count
        case .binary(let bytes):
            return 1 + Base64.encodedLength(of: bytes.readableBytes)
        }
    }
}
