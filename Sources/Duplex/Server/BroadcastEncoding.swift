/// How a broadcast message is framed for one recipient.
enum BroadcastEncoding: Sendable, Equatable {
    /// No compression: the plain frame.
    case plain
    /// Compressed from scratch with shared-compressor settings `key` (same bytes for every
    /// recipient with the same key) when at least `minimumSize` bytes.
    case shared(DeflateWorkspace.CompressorKey, minimumSize: Int)
    /// Compressed with the recipient's own context: once per recipient, on its loop.
    case dedicated(minimumSize: Int)
}
