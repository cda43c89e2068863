import NIOCore

/// A chat message as the history keeps it.
public struct StoredMessage: Sendable, Equatable {
    /// The store's id, increasing per server; 0 until the store assigned one.
    public var id: Int64
    /// The room the message was said in.
    public var room: String
    /// The author's display name when the message was said.
    public var user: String
    /// The message text, trimmed and within the length limit.
    public var text: String
    /// Milliseconds since 1970 (UTC).
    public var timestamp: Int64

    /// A message; the store assigns `id` when appending.
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
