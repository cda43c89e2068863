import ChatRoom
import DuplexPostgres
import Logging
import NIOCore
import PostgresNIO

/// History and identities in PostgreSQL, shared by every server of one chat: messages are
/// numbered per room in commit order (see ``PostgresChatSchema``), names of kept
/// identities are unique across servers (a unique index decides).
public final class PostgresChatStore: ChatStore {
    let link: PostgresLink
    private let logger: Logger
    private var eventLoop: EventLoop { link.eventLoop }

    init(link: PostgresLink, logger: Logger) {
        self.link = link
        self.logger = logger
    }

    public var roomIDsAreSequential: Bool { true }

    private func future<Value: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Value) -> EventLoopFuture<Value> {
        eventLoop.makeFutureWithTask { [link] in
            guard let value = try await link.withConnection(body) else { throw PostgresChatError.closed }
            return value
        }
    }

    public func append(_ messages: [StoredMessage]) -> EventLoopFuture<[StoredMessage]> {
        guard !messages.isEmpty else { return eventLoop.makeSucceededFuture([]) }
        let logger = logger
        // Not retried on a new connection: the first try may have committed.
        return eventLoop.makeFutureWithTask { [link] in
            guard let connection = await link.currentConnection() else { throw PostgresChatError.closed }
            let rows = try await connection.query(
                """
                SELECT stored_room, stored_id FROM duplex_chat_append(\(messages.map(\.room)), \(messages.map(\.user)),
                \(messages.map { $0.userID ?? 0 }), \(messages.map(\.text)), \(messages.map(\.timestamp)))
                """, logger: logger)
            var ids: [Int64] = []
            for try await (_, id) in rows.decode((String, Int64).self) { ids.append(id) }
            guard ids.count == messages.count else { throw PostgresChatError.noID }
            return zip(messages, ids).map { message, id in
                var stored = message
                stored.id = id
                return stored
            }
        }
    }

    public func recent(room: String, limit: Int) -> EventLoopFuture<[StoredMessage]> {
        let logger = logger
        return future { connection in
            let rows = try await connection.query(
                "SELECT id, user_name, user_id, body, ts FROM duplex_chat_messages WHERE room = \(room) ORDER BY id DESC LIMIT \(limit)",
                logger: logger)
            return try await Self.messages(rows, room: room).reversed()
        }
    }

    public func since(room: String, after id: Int64, limit: Int) -> EventLoopFuture<[StoredMessage]> {
        let logger = logger
        return future { connection in
            let rows = try await connection.query(
                "SELECT id, user_name, user_id, body, ts FROM duplex_chat_messages WHERE room = \(room) AND id > \(id) ORDER BY id LIMIT \(limit)",
                logger: logger)
            return try await Self.messages(rows, room: room)
        }
    }

    private static func messages(_ rows: PostgresRowSequence, room: String) async throws -> [StoredMessage] {
        var messages: [StoredMessage] = []
        for try await (id, user, uid, text, ts) in rows.decode((Int64, String, Int64?, String, Int64).self) {
            messages.append(StoredMessage(id: id, room: room, user: user, userID: uid, text: text, timestamp: ts))
        }
        return messages
    }

    // MARK: - Identities

    public func identity(tokenDigest: String) -> EventLoopFuture<ChatIdentity?> {
        let logger = logger
        return future { connection in
            // Presenting the token makes the identity kept; a name a kept identity took
            // meanwhile stays theirs (this one goes back to its default name).
            let rows = try await connection.query(
                """
                WITH free AS (
                    SELECT i.id, (i.kept OR i.name_key IS NULL OR NOT EXISTS (SELECT 1 FROM duplex_chat_identities AS o
                        WHERE o.name_key = i.name_key AND o.kept AND o.id <> i.id)) AS ok
                    FROM duplex_chat_identities AS i WHERE i.token_digest = \(tokenDigest))
                UPDATE duplex_chat_identities AS t SET kept = true,
                    name = CASE WHEN free.ok THEN t.name END, name_key = CASE WHEN free.ok THEN t.name_key END
                FROM free WHERE t.id = free.id RETURNING t.id, t.name
                """, logger: logger)
            for try await (id, name) in rows.decode((Int64, String?).self) {
                return ChatIdentity(id: id, chosenName: name, kept: true)
            }
            return nil
        }
    }

    public func createIdentity(tokenDigest: String, kept: Bool) -> EventLoopFuture<ChatIdentity> {
        let logger = logger
        return future { connection in
            let rows = try await connection.query(
                "INSERT INTO duplex_chat_identities (token_digest, kept, created) VALUES (\(tokenDigest), \(kept), \(ChatClock.nowMilliseconds())) RETURNING id",
                logger: logger)
            for try await id in rows.decode(Int64.self) { return ChatIdentity(id: id, kept: kept) }
            throw PostgresChatError.noID
        }
    }

    public func claim(name: String, for id: Int64) -> EventLoopFuture<Bool> {
        let owner = ChatIdentity.defaultNameOwner(name)
        if let owner, owner != id { return eventLoop.makeSucceededFuture(false) }
        // Going back to one's own default name clears the chosen one.
        let chosen: String? = owner == id ? nil : name
        let key: String? = owner == id ? nil : ChatIdentity.nameKey(name)
        let nameKey = ChatIdentity.nameKey(name)
        let logger = logger
        return future { connection in
            do {
                let rows = try await connection.query(
                    """
                    UPDATE duplex_chat_identities SET name = \(chosen), name_key = \(key) WHERE id = \(id)
                    AND NOT EXISTS (SELECT 1 FROM duplex_chat_identities AS o WHERE o.name_key = \(nameKey) AND o.kept AND o.id <> \(id))
                    RETURNING id
                    """, logger: logger)
                for try await _ in rows { return true }
                return false
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                return false  // a kept identity on another server took it at the same moment
            }
        }
    }

    /// The link is closed by the node that owns it.
    public func close() -> EventLoopFuture<Void> {
        eventLoop.makeSucceededVoidFuture()
    }
}

/// Why the chat's PostgreSQL store failed, in words for the person running the chat.
public enum PostgresChatError: Error, CustomStringConvertible {
    /// PostgreSQL stored messages but returned no id for some.
    case noID
    /// The node is shutting down.
    case closed
    /// PostgreSQL did not answer at start, or the chat's tables could not be created.
    case unreachable(String)

    public var description: String {
        switch self {
        case .noID: "PostgreSQL returned no id for a stored message"
        case .closed: "the PostgreSQL link is closed"
        case .unreachable(let reason): "cannot use PostgreSQL: \(reason)"
        }
    }
}
