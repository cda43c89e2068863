import Foundation
import Logging
import NIOCore
import SQLiteNIO

/// History and identities in an SQLite file (the default of `duplex chat`): WAL journal,
/// one row per message, an index per room; one row per identity, with the digest of its
/// token and a unique index on the names of kept identities.
public final class SQLiteHistoryStore: ChatStore {
    private let connection: SQLiteConnection

    private init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Opens (and creates if needed) the database at `path`. Errors say what is wrong with
    /// the path (a missing folder, no permission, a read-only file) rather than SQLite's code.
    public static func open(path: String, logger: Logger = Logger(label: "duplex.chat.sqlite")) async throws -> SQLiteHistoryStore {
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        } catch {
            throw SQLiteHistoryStoreError.cannotOpen(path: path, reason: SQLiteHistoryStoreError.explain(path: path, error))
        }
        do {
            try await prepare(connection)
        } catch {
            // A connection that opened must be closed, whatever failed after.
            try? await connection.close().get()
            throw SQLiteHistoryStoreError.cannotOpen(path: path, reason: SQLiteHistoryStoreError.explain(path: path, error))
        }
        return SQLiteHistoryStore(connection: connection)
    }

    private static func prepare(_ connection: SQLiteConnection) async throws {
        for statement in [
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            """
            CREATE TABLE IF NOT EXISTS messages (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                room TEXT NOT NULL,
                user TEXT NOT NULL,
                text TEXT NOT NULL,
                ts INTEGER NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS messages_room_id ON messages (room, id)",
            """
            CREATE TABLE IF NOT EXISTS identities (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                token_digest TEXT NOT NULL UNIQUE,
                name TEXT,
                name_key TEXT,
                kept INTEGER NOT NULL DEFAULT 0,
                created INTEGER NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX IF NOT EXISTS identities_kept_name ON identities (name_key) WHERE kept = 1 AND name_key IS NOT NULL",
        ] {
            _ = try await connection.query(statement)
        }
        // Files written before identities existed get the sender column.
        let columns = try await connection.query("PRAGMA table_info(messages)")
        if !columns.contains(where: { $0.column("name")?.string == "user_id" }) {
            _ = try await connection.query("ALTER TABLE messages ADD COLUMN user_id INTEGER")
            // Its history names people `User N`, numbered per run: new identities start
            // above every such N, so no newcomer is shown a stranger's old name as theirs.
            _ = try await connection.query(
                """
                INSERT INTO sqlite_sequence (name, seq)
                SELECT 'identities', max(CAST(substr(user, 6) AS INTEGER)) FROM messages WHERE user GLOB 'User [0-9]*'
                HAVING max(CAST(substr(user, 6) AS INTEGER)) IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'identities')
                """
            )
        }
    }

    public func append(_ messages: [StoredMessage]) -> EventLoopFuture<[StoredMessage]> {
        guard !messages.isEmpty else { return connection.eventLoop.makeSucceededFuture([]) }
        // One statement for the batch: one write, one commit.
        let rows = Array(repeating: "(?, ?, ?, ?, ?)", count: messages.count).joined(separator: ", ")
        var binds: [SQLiteData] = []
        binds.reserveCapacity(messages.count * 5)
        for message in messages {
            binds += [.text(message.room), .text(message.user), message.userID.map { .integer(Int($0)) } ?? .null,
                      .text(message.text), .integer(Int(message.timestamp))]
        }
        return connection.query("INSERT INTO messages (room, user, user_id, text, ts) VALUES \(rows) RETURNING id", binds)
            .flatMapThrowing { rows in
                // The rows of one INSERT get increasing ids in the order of its VALUES.
                let ids = rows.compactMap { $0.column("id")?.integer }.sorted()
                guard ids.count == messages.count else { throw SQLiteHistoryStoreError.noID }
                return zip(messages, ids).map { message, id in
                    var stored = message
                    stored.id = Int64(id)
                    return stored
                }
            }
    }

    public func recent(room: String, limit: Int) -> EventLoopFuture<[StoredMessage]> {
        connection.query(
            "SELECT id, room, user, user_id, text, ts FROM messages WHERE room = ? ORDER BY id DESC LIMIT ?",
            [.text(room), .integer(limit)]
        ).map { rows in rows.reversed().map { Self.message($0, room: room) } }
    }

    public func since(room: String, after id: Int64, limit: Int) -> EventLoopFuture<[StoredMessage]> {
        connection.query(
            "SELECT id, room, user, user_id, text, ts FROM messages WHERE room = ? AND id > ? ORDER BY id LIMIT ?",
            [.text(room), .integer(Int(id)), .integer(limit)]
        ).map { rows in rows.map { Self.message($0, room: room) } }
    }

    private static func message(_ row: SQLiteRow, room: String) -> StoredMessage {
        StoredMessage(
            id: Int64(row.column("id")?.integer ?? 0),
            room: row.column("room")?.string ?? room,
            user: row.column("user")?.string ?? "",
            userID: row.column("user_id")?.integer.map { Int64($0) },
            text: row.column("text")?.string ?? "",
            timestamp: Int64(row.column("ts")?.integer ?? 0)
        )
    }

    // MARK: - Identities

    public func identity(tokenDigest: String) -> EventLoopFuture<ChatIdentity?> {
        // Presenting the token makes the identity kept; a name a kept identity took
        // meanwhile stays theirs (this one goes back to its default name).
        let nameIsFree = """
            (kept = 1 OR name_key IS NULL OR NOT EXISTS (SELECT 1 FROM identities AS other \
            WHERE other.name_key = identities.name_key AND other.kept = 1 AND other.id <> identities.id))
            """
        return connection.query(
            """
            UPDATE identities SET kept = 1,
                name = CASE WHEN \(nameIsFree) THEN name ELSE NULL END,
                name_key = CASE WHEN \(nameIsFree) THEN name_key ELSE NULL END
            WHERE token_digest = ? RETURNING id, name
            """,
            [.text(tokenDigest)]
        ).map { rows in
            rows.first.flatMap { row in
                row.column("id")?.integer.map { ChatIdentity(id: Int64($0), chosenName: row.column("name")?.string, kept: true) }
            }
        }
    }

    public func createIdentity(tokenDigest: String, kept: Bool) -> EventLoopFuture<ChatIdentity> {
        connection.query(
            "INSERT INTO identities (token_digest, kept, created) VALUES (?, ?, ?) RETURNING id",
            [.text(tokenDigest), .integer(kept ? 1 : 0), .integer(Int(ChatClock.nowMilliseconds()))]
        ).flatMapThrowing { rows in
            guard let id = rows.first?.column("id")?.integer else { throw SQLiteHistoryStoreError.noID }
            return ChatIdentity(id: Int64(id), kept: kept)
        }
    }

    public func claim(name: String, for id: Int64) -> EventLoopFuture<Bool> {
        let owner = ChatIdentity.defaultNameOwner(name)
        if let owner, owner != id { return connection.eventLoop.makeSucceededFuture(false) }
        // Going back to one's own default name clears the chosen one.
        let chosen: SQLiteData = owner == id ? .null : .text(name)
        let key: SQLiteData = owner == id ? .null : .text(ChatIdentity.nameKey(name))
        return connection.query(
            """
            UPDATE identities SET name = ?, name_key = ? WHERE id = ?
            AND NOT EXISTS (SELECT 1 FROM identities AS other WHERE other.name_key = ? AND other.kept = 1 AND other.id <> ?)
            RETURNING id
            """,
            [chosen, key, .integer(Int(id)), .text(ChatIdentity.nameKey(name)), .integer(Int(id))]
        ).map { !$0.isEmpty }
    }

    public func close() -> EventLoopFuture<Void> {
        // A checkpoint folds the WAL into the database file, so the file alone is complete.
        connection.query("PRAGMA wal_checkpoint(TRUNCATE)").flatMap { _ in self.connection.close() }
    }
}

/// Why the SQLite history failed, in words for the person running the chat.
public enum SQLiteHistoryStoreError: Error, CustomStringConvertible {
    /// SQLite stored a message but returned no row id for it.
    case noID
    /// The database file cannot be opened or created (permissions, a directory, not a
    /// database...).
    case cannotOpen(path: String, reason: String)

    public var description: String {
        switch self {
        case .noID: "the database returned no id for a stored message"
        case .cannotOpen(let path, let reason): "cannot open the chat history at \(path): \(reason) (use --db PATH, or --memory for no file)"
        }
    }

    /// What is wrong with the path, checked on the file system.
    static func explain(path: String, _ error: Error) -> String {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let files = FileManager.default
        var isFolder: ObjCBool = false
        if !files.fileExists(atPath: folder, isDirectory: &isFolder) || !isFolder.boolValue {
            return "the folder \(folder) does not exist"
        }
        if files.fileExists(atPath: path) {
            if !files.isWritableFile(atPath: path) { return "the file is read-only" }
        } else if !files.isWritableFile(atPath: folder) {
            return "the folder \(folder) is not writable"
        }
        let text = "\(error)"
        if text.localizedCaseInsensitiveContains("readonly") || text.localizedCaseInsensitiveContains("read-only") {
            return "the database is read-only (\(text))"
        }
        return text
    }
}
