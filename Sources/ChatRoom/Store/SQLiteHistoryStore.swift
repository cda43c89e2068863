import Foundation
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
        ] {
            _ = try await connection.query(statement)
        }
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
