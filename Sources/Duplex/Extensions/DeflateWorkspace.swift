import CompressNIO
import NIOCore

/// The zlib streams and scratch buffers of one thread (in practice: one event loop).
///
/// Connections without context takeover borrow these for the duration of one message, so
/// an idle connection holds no zlib state. Streams are created on first use and reset
/// before each message; a thread only ever touches its own workspace, so no locking.
final class DeflateWorkspace: @unchecked Sendable {
    /// The calling thread's workspace (kept in ``LoopData``).
    static var current: DeflateWorkspace { LoopData.current.deflate }

    struct CompressorKey: Hashable {
        var windowBits: Int32
        var level: Int32
        var memoryLevel: Int32
    }

    private var compressors: [CompressorKey: ZlibCompressor] = [:]
    private var inflater: ZlibDecompressor?
    /// The message to compress (a copy the compressor may read through a mutable pointer).
    var input = ByteBuffer()
    /// The compressed bytes before they are framed.
    var output = ByteBuffer()

    /// Scratch buffers that grew for a large message are dropped above this capacity.
    static let scratchLimit = 256 * 1024

    func compressor(_ key: CompressorKey) throws -> ZlibCompressor {
        if let compressor = compressors[key] {
            try compressor.reset()
            return compressor
        }
        let compressor = try ZlibCompressor(algorithm: .deflate, configuration: .init(
            windowSize: key.windowBits, compressionLevel: key.level, memoryLevel: key.memoryLevel))
        compressors[key] = compressor
        return compressor
    }

    /// The shared inflate stream: window 15 inflates any window the peer may use.
    func decompressor() throws -> ZlibDecompressor {
        if let inflater {
            try inflater.reset()
            return inflater
        }
        let inflater = try ZlibDecompressor(algorithm: .deflate, windowSize: 15)
        self.inflater = inflater
        return inflater
    }

    func trimScratch() {
        if input.capacity > Self.scratchLimit { input = ByteBuffer() }
        if output.capacity > Self.scratchLimit { output = ByteBuffer() }
    }
}
