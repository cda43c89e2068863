import NIOCore

/// A chat message as the history keeps it.
public struct StoredMessage: Sendable, Equatable {
    public var id: Int64
    public var room: String
    public var user: String
    public var text: String
    /// Milliseconds since 1970 (UTC).
    public var timestamp: Int64

    public init(id: Int64 = 0, room: String, user: String, text: String, timestamp: Int64) {
        self.id = id
        self.room = room
        self.user = user
        self.text = text
        self.timestamp = timestamp
    }
}

/// Where chat history lives. Appends complete in order of submission; a message is only
/// broadcast after its append succeeded, so nothing anyone saw is lost on restart.
public protocol HistoryStore: Sendable {
    /// Stores the message and returns it with its id.
    func append(_ message: StoredMessage) -> EventLoopFuture<StoredMessage>
    /// The last `limit` messages of a room, oldest first.
    func recent(room: String, limit: Int) -> EventLoopFuture<[StoredMessage]>
    /// Flushes and closes the store.
    func close() -> EventLoopFuture<Void>
}
