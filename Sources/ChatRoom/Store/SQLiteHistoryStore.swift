import Logging
import NIOCore
import SQLiteNIO

/// History in an SQLite file (the default of `duplex chat`): WAL journal, one row per
/// message, an index per room.
public final class SQLiteHistoryStore: HistoryStore {
    private let connection: SQLiteConnection

    private init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Opens (and creates if needed) the database at `path`.
    public static func open(path: String, logger: Logger = Logger(label: "duplex.chat.sqlite")) async throws -> SQLiteHistoryStore {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
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
        ] {
            _ = try await connection.query(statement)
        }
        return SQLiteHistoryStore(connection: connection)
    }

    public func append(_ message: StoredMessage) -> EventLoopFuture<StoredMessage> {
        connection.query(
            "INSERT INTO messages (room, user, text, ts) VALUES (?, ?, ?, ?) RETURNING id",
            [.text(message.room), .text(message.user), .text(message.text), .integer(Int(message.timestamp))]
        ).flatMapThrowing { rows in
            guard let id = rows.first?.column("id")?.integer else { throw SQLiteHistoryStoreError.noID }
            var stored = message
            stored.id = Int64(id)
            return stored
        }
    }

    public func recent(room: String, limit: Int) -> EventLoopFuture<[StoredMessage]> {
        connection.query(
            "SELECT id, room, user, text, ts FROM messages WHERE room = ? ORDER BY id DESC LIMIT ?",
            [.text(room), .integer(limit)]
        ).map { rows in
            rows.reversed().map { row in
                StoredMessage(
                    id: Int64(row.column("id")?.integer ?? 0),
                    room: row.column("room")?.string ?? room,
                    user: row.column("user")?.string ?? "",
                    text: row.column("text")?.string ?? "",
                    timestamp: Int64(row.column("ts")?.integer ?? 0)
                )
            }
        }
    }

    public func close() -> EventLoopFuture<Void> {
        // A checkpoint folds the WAL into the database file, so the file alone is complete.
        connection.query("PRAGMA wal_checkpoint(TRUNCATE)").flatMap { _ in self.connection.close() }
    }
}

enum SQLiteHistoryStoreError: Error {
    case noID
}
