import NIOCore

/// A chat message as the history keeps it.
public struct StoredMessage: Sendable, Equatable {
    public var id: Int64
    public var room: String
    public var user: String
    /// The sender's identity (nil in rows written before identities existed).
    public var userID: Int64?
    public var text: String
    /// Milliseconds since 1970 (UTC).
    public var timestamp: Int64

    public init(id: Int64 = 0, room: String, user: String, userID: Int64? = nil, text: String, timestamp: Int64) {
        self.id = id
        self.room = room
        self.user = user
        self.userID = userID
        self.text = text
        self.timestamp = timestamp
    }
}

/// Where chat history lives. A message is stored before anyone sees it, and ids increase
/// in the order messages are delivered: the hub delivers a room's messages in id order,
/// and a client that saw id X catches up with everything after X.
public protocol HistoryStore: Sendable {
    /// Stores the messages (one write) and returns them with their ids, in order.
    func append(_ messages: [StoredMessage]) -> EventLoopFuture<[StoredMessage]>
    /// The last `limit` messages of a room, oldest first.
    func recent(room: String, limit: Int) -> EventLoopFuture<[StoredMessage]>
    /// Up to `limit` messages of a room with an id above `id`, oldest first.
    func since(room: String, after id: Int64, limit: Int) -> EventLoopFuture<[StoredMessage]>
    /// Flushes and closes the store.
    func close() -> EventLoopFuture<Void>
    /// True when each room's ids go 1, 2, 3… with no gap (a store shared by several
    /// servers): the hub then delivers strictly in sequence and reads what it missed.
    var roomIDsAreSequential: Bool { get }
}

extension HistoryStore {
    public var roomIDsAreSequential: Bool { false }
}

extension HistoryStore {
    /// Stores one message.
    public func append(_ message: StoredMessage) -> EventLoopFuture<StoredMessage> {
        append([message]).map { $0.first ?? message }
    }
}

/// The chat's whole store: history and identities.
public typealias ChatStore = HistoryStore & IdentityStore
