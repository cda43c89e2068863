import CompressNIO
import NIOCore
import NIOPosix
import Synchronization

/// A message to send, before framing.
enum OutboundPayload {
    case text(String)
    case binary(ByteBuffer)

    var opcode: Opcode {
        switch self {
        case .text: .text
        case .binary: .binary
        }
    }

    var count: Int {
        switch self {
        case .text(let s): s.utf8.count
        case .binary(let b): b.readableBytes
        }
    }
}

/// permessage-deflate on one connection: compresses outgoing messages and inflates incoming
/// ones per the negotiated agreement. Confined to the connection's event loop.
final class PerMessageDeflateCodec {
    let agreement: DeflateAgreement
    let options: PerMessageDeflateOptions
    /// Dedicated streams, only for directions with context takeover, created lazily.
    private var compressor: ZlibCompressor?
    private var decompressor: ZlibDecompressor?

    init(agreement: DeflateAgreement, options: PerMessageDeflateOptions) {
        self.agreement = agreement
        self.options = options
    }

    /// Whether this connection can compress at all (zlib cannot produce an 8-bit window).
    var canCompress: Bool { agreement.sendWindowBits >= 9 }

    /// The shared-compressor settings, when every message is compressed from scratch: two
    /// connections with the same key get byte-identical compressed frames (broadcast).
    var sharedKey: DeflateWorkspace.CompressorKey? {
        guard canCompress, agreement.sendNoContextTakeover else { return nil }
        return Self.key(windowBits: agreement.sendWindowBits, options: options)
    }

    static func key(windowBits: Int, options: PerMessageDeflateOptions) -> DeflateWorkspace.CompressorKey {
        .init(windowBits: Int32(windowBits), level: options.compressionLevel, memoryLevel: options.memoryLevel)
    }

    /// Whether a message of this size should be compressed.
    func shouldCompress(count: Int) -> Bool {
        canCompress && count >= max(1, options.minimumSize)
    }

    /// A complete compressed frame (RSV1 set), masked with `mask` when given.
    func compressedFrame(_ payload: OutboundPayload, mask: MaskingKey?, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        if let key = sharedKey {
            return try Self.compressedFrame(payload, key: key, mask: mask, allocator: allocator)
        }
        if compressor == nil {
            compressor = try ZlibCompressor(algorithm: .deflate, configuration: .init(
                windowSize: Int32(agreement.sendWindowBits), compressionLevel: options.compressionLevel,
                memoryLevel: options.memoryLevel))
        }
        do {
            return try Self.compressedFrame(payload, compressor: compressor!, mask: mask, allocator: allocator)
        } catch {
            // A stream in an unknown state is dropped; a fresh one is always safe (it simply
            // does not refer back to earlier messages).
            compressor = nil
            throw error
        }
    }

    /// A compressed frame made with the calling thread's shared compressor for `key`.
    static func compressedFrame(_ payload: OutboundPayload, key: DeflateWorkspace.CompressorKey, mask: MaskingKey?, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        let workspace = DeflateWorkspace.current
        return try compressedFrame(payload, compressor: workspace.compressor(key), mask: mask, allocator: allocator)
    }

    #if DEBUG
    /// Messages compressed by this process (debug builds only: tests check that a broadcast
    /// compresses once per event loop).
    static let debugCompressions = Atomic<Int>(0)
    #endif

    private static func compressedFrame(_ payload: OutboundPayload, compressor: ZlibCompressor, mask: MaskingKey?, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        #if DEBUG
        debugCompressions.wrappingAdd(1, ordering: .relaxed)
        #endif
        let workspace = DeflateWorkspace.current
        defer { workspace.trimScratch() }
        workspace.input.clear()
        switch payload {
        case .text(let text): workspace.input.writeString(text)
        case .binary(let data): workspace.input.writeImmutableBuffer(data)
        }
        try deflate(&workspace.input, compressor: compressor, into: &workspace.output)
        return FrameEncoder.frame(opcode: payload.opcode, payload: workspace.output, rsv1: true, mask: mask, allocator: allocator)
    }

    /// Compresses `input` with a sync flush and strips the trailing `00 00 FF FF`
    /// (RFC 7692 §7.2.1).
    static func deflate(_ input: inout ByteBuffer, compressor: ZlibCompressor, into output: inout ByteBuffer) throws {
        output.clear()
        output.reserveCapacity(minimumWritableBytes: compressor.maxSize(from: input))
        try compressor.deflate(from: &input, to: &output, flush: .sync)
        // deflateBound makes one call enough; should zlib still fill the buffer, it holds
        // more output: give it room until it stops making progress.
        while output.writableBytes == 0 || input.readableBytes > 0 {
            output.reserveCapacity(minimumWritableBytes: max(4096, output.readableBytes))
            do {
                try compressor.deflate(from: &input, to: &output, flush: .sync)
            } catch let error as CompressNIOError where error == .bufferOverflow && output.writableBytes > 0 {
                break  // Z_BUF_ERROR with room left: nothing more to write
            }
        }
        guard output.readableBytes >= 4,
              output.getInteger(at: output.writerIndex - 4, as: UInt32.self) == 0x0000_FFFF
        else { throw CompressNIOError.internalError }
        output.moveWriterIndex(to: output.writerIndex - 4)
    }

    /// Inflates a complete compressed message (its buffer is consumed). The inflated size
    /// is bounded by `maxSize`: a decompression bomb fails with 1009 after at most
    /// `maxSize` bytes were produced.
    func inflate(_ message: inout ByteBuffer, maxSize: Int, allocator: ByteBufferAllocator) throws(ProtocolViolation) -> ByteBuffer {
        let inflater: ZlibDecompressor
        do {
            if agreement.receiveNoContextTakeover {
                inflater = try DeflateWorkspace.current.decompressor()
            } else if let decompressor {
                inflater = decompressor
            } else {
                decompressor = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
                inflater = decompressor!
            }
        } catch {
            throw ProtocolViolation(.internalServerError, "cannot allocate an inflate stream")
        }
        do {
            return try Self.inflate(&message, with: inflater, maxSize: maxSize, allocator: allocator)
        } catch {
            // A dedicated stream in an unknown state cannot be used again.
            if !agreement.receiveNoContextTakeover { decompressor = nil }
            throw error
        }
    }

    static func inflate(_ message: inout ByteBuffer, with inflater: ZlibDecompressor, maxSize: Int, allocator: ByteBufferAllocator) throws(ProtocolViolation) -> ByteBuffer {
        message.writeInteger(UInt32(0x0000_FFFF))  // the tail the sender removed
        let limit = maxSize == .max ? maxSize : maxSize + 1
        var output = allocator.buffer(capacity: min(limit, max(1024, message.readableBytes * 4)))
        inflating: while true {
            do {
                try inflater.inflate(from: &message, to: &output)
                break inflating
            } catch let error as CompressNIOError {
                switch error {
                case .bufferOverflow:
                    // Output full: grow up to one byte over the limit (to tell "exactly
                    // maxSize" from "more").
                    guard output.readableBytes < limit && output.readableBytes <= maxSize else {
                        throw ProtocolViolation(.messageTooBig, "message inflates to more than \(maxSize) bytes")
                    }
                    output.reserveCapacity(min(limit, output.capacity * 2))
                case .inputBufferOverflow:
                    break inflating  // all input consumed
                case .corruptData:
                    throw ProtocolViolation(.invalidFramePayloadData, "invalid compressed data")
                default:
                    throw ProtocolViolation(.internalServerError, "inflate failed: \(error)")
                }
            } catch {
                throw ProtocolViolation(.internalServerError, "inflate failed: \(error)")
            }
        }
        guard output.readableBytes <= maxSize else {
            throw ProtocolViolation(.messageTooBig, "message inflates to more than \(maxSize) bytes")
        }
        if message.readableBytes > 0 {
            // The deflate stream ended (a block with BFINAL set, RFC 7692 §7.2.3.4): what
            // follows (padding, our tail) is ignored, and the stream starts afresh for the
            // next message.
            try? inflater.reset()
        }
        return output
    }
}
