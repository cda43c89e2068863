import NIOCore

/// A complete message received on a connection.
public enum WebSocketMessage: Sendable, Equatable {
    case text(String)
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
