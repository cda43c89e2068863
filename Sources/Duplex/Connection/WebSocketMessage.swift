import NIOCore

/// A complete message received on a connection.
public enum WebSocketMessage: Sendable, Equatable {
    /// A text message (opcode 1), already checked to be valid UTF-8.
    case text(String)
    /// A binary message (opcode 2), reassembled and decompressed.
    case binary(ByteBuffer)
}

extension WebSocketMessage {
    /// The payload's size in bytes (UTF-8 for text).
    var payloadCount: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .binary(let data): data.readableBytes
        }
    }
}
