import DuplexPostgres
import Logging
import NIOCore
import PostgresNIO
import SocketIO
import Synchronization

/// Connection state recovery across nodes, PostgreSQL's side (a Duplex extension: no
/// official adapter does this on PostgreSQL). One per cluster, shared by its adapters.
///
/// - `socket_io_recovery_packets`: the log; its `bigserial` id is the offset, assigned by
///   `socket_io_recovery_publish`, which takes a transaction-level advisory lock, inserts the
///   row and sends the NOTIFY with the offset in it: ids, commits and notifications all come
///   in the same order, so every node delivers in offset order. A binary or large broadcast
///   (one that would go through the attachments table) goes through
///   `socket_io_recovery_publish_packed`: the row holds its MessagePack (`payload`), the
///   NOTIFY only its offset, and every node reads the row before delivering it.
/// - `socket_io_recovery_sessions`: every recovering socket of every node (written within a
///   second of a change, refreshed every second while connected, marked disconnected when it
///   leaves for a recoverable reason): a node that dies leaves its sockets' sessions behind.
///
/// Statements run one at a time, in order, on the cluster's connection; the queue is bounded.
final class RecoveryDatabase: Sendable {
    static let packetsTable = "socket_io_recovery_packets"
    static let sessionsTable = "socket_io_recovery_sessions"
    static let publishFunction = "socket_io_recovery_publish"
    static let publishPackedFunction = "socket_io_recovery_publish_packed"

    /// A session row as written.
    struct SessionRow: Sendable {
        let pid: String
        let sid: String
        let rooms: [String]
        let data: JSONValue
        let connected: Bool
    }

    enum Operation: Sendable {
        case upsert(nsp: String, node: String, [SessionRow])
        case refresh(nsp: String, node: String)
        case delete(nsp: String, node: String, sid: String)
        case cleanUp(nsp: String, maxAge: TimeAmount)
        case restore(nsp: String, pid: String, maxAge: TimeAmount, @Sendable (SocketIOSession?) -> Void)
        case restoreWithPackets(nsp: String, pid: String, offset: Int64, maxAge: TimeAmount, limit: Int,
                                @Sendable (TableRestore?) -> Void)
    }

    /// A session restored with the packets read from the table: those of its namespace
    /// after the client's offset up to `through`, the highest id committed when the session
    /// was taken (every later one reaches this node by NOTIFY).
    struct TableRestore: Sendable {
        let session: SocketIOSession
        let packets: [(offset: UInt64, message: ClusterMessage)]
        let through: UInt64
    }

    private let link: PostgresLink
    private let logger: Logger
    private let operations: AsyncStream<Operation>
    private let queue: AsyncStream<Operation>.Continuation
    private let ready = Atomic<Bool>(false)
    private let worker = Mutex<Task<Void, Never>?>(nil)
    private let dropped = Atomic<Int>(0)

    init(link: PostgresLink, logger: Logger, limit: Int) {
        self.link = link
        self.logger = logger
        (operations, queue) = AsyncStream.makeStream(of: Operation.self, bufferingPolicy: .bufferingNewest(max(1, limit)))
    }

    /// Whether the tables and the function exist (checked once per process, then assumed).
    var isReady: Bool { ready.load(ordering: .relaxed) }

    func start() {
        let task = Task { await self.run() }
        worker.withLock { $0 = task }
    }

    func stop() {
        queue.finish()
        worker.withLock { $0?.cancel() }
    }

    /// Queues a statement; past the bound the oldest queued one goes (a restore among them
    /// answers "no session").
    func enqueue(_ operation: Operation) {
        if case .dropped(let old) = queue.yield(operation) {
            Self.answerNothing(old)
            let count = dropped.wrappingAdd(1, ordering: .relaxed).newValue
            if count == 1 || count % 1000 == 0 {
                logger.warning("recovery statements dropped: the queue is full (PostgreSQL slow or down)", metadata: ["droppedSoFar": "\(count)"])
            }
        }
    }

    /// The session `pid` of namespace `nsp`, taken out of the table when it is younger than `maxAge`.
    func restore(nsp: String, pid: String, maxAge: TimeAmount) async -> SocketIOSession? {
        await withCheckedContinuation { continuation in
            enqueue(.restore(nsp: nsp, pid: pid, maxAge: maxAge) { continuation.resume(returning: $0) })
        }
    }

    /// Like ``restore(nsp:pid:maxAge:)`` when this node's log lacks the offset: the offset
    /// must be in the table, and the packets after it come from there; more than `limit`
    /// of them (the bound of a node's own log) is as good as a too-old offset: nil.
    func restoreFromTable(nsp: String, pid: String, offset: UInt64, maxAge: TimeAmount, limit: Int) async -> TableRestore? {
        guard offset <= UInt64(Int64.max) else { return nil }
        return await withCheckedContinuation { continuation in
            enqueue(.restoreWithPackets(nsp: nsp, pid: pid, offset: Int64(offset), maxAge: maxAge, limit: limit) {
                continuation.resume(returning: $0)
            })
        }
    }

    private func run() async {
        // At once, so that broadcasts are logged from the start (retried before each
        // statement until it works).
        do { try await createSchema() } catch {
            logger.warning("recovery tables not created yet: \(String(reflecting: error))")
        }
        for await operation in operations {
            do {
                if !isReady { try await createSchema() }
                if try await !execute(operation) { Self.answerNothing(operation) }
            } catch {
                Self.answerNothing(operation)
                logger.warning("recovery statement failed: \(String(reflecting: error))")
            }
        }
    }

    /// A request that will not run still gets its answer.
    private static func answerNothing(_ operation: Operation) {
        switch operation {
        case .restore(_, _, _, let answer): answer(nil)
        case .restoreWithPackets(_, _, _, _, _, let answer): answer(nil)
        default: break
        }
    }

    /// Creates the tables and the publishing function if needed, under an advisory lock so
    /// that nodes starting together do not trip over each other.
    func createSchema() async throws {
        _ = try await link.withConnection { connection in
            try await connection.query("""
                DO $$ BEGIN
                PERFORM pg_advisory_xact_lock(hashtext('\(unescaped: Self.publishFunction)'));
                CREATE TABLE IF NOT EXISTS \(unescaped: Self.packetsTable) (
                    id bigserial PRIMARY KEY, nsp text NOT NULL, message text, payload bytea,
                    created_at timestamptz NOT NULL DEFAULT now());
                -- Tables of earlier versions: JSON text only.
                ALTER TABLE \(unescaped: Self.packetsTable) ADD COLUMN IF NOT EXISTS payload bytea;
                ALTER TABLE \(unescaped: Self.packetsTable) ALTER COLUMN message DROP NOT NULL;
                CREATE INDEX IF NOT EXISTS \(unescaped: Self.packetsTable)_created ON \(unescaped: Self.packetsTable) (created_at);
                CREATE TABLE IF NOT EXISTS \(unescaped: Self.sessionsTable) (
                    pid text PRIMARY KEY, nsp text NOT NULL, sid text NOT NULL, rooms text NOT NULL, data text NOT NULL,
                    node text NOT NULL, connected boolean NOT NULL, last_seen timestamptz NOT NULL DEFAULT now());
                CREATE OR REPLACE FUNCTION \(unescaped: Self.publishFunction)(p_channel text, p_nsp text, p_message text)
                RETURNS bigint LANGUAGE plpgsql AS $f$
                DECLARE new_id bigint;
                BEGIN
                    -- Held until commit: ids, commits and NOTIFYs in one order.
                    PERFORM pg_advisory_xact_lock(hashtext('\(unescaped: Self.packetsTable)'));
                    INSERT INTO \(unescaped: Self.packetsTable) (nsp, message) VALUES (p_nsp, p_message) RETURNING id INTO new_id;
                    PERFORM pg_notify(p_channel, '{"offset":"' || new_id || '",' || substr(p_message, 2));
                    RETURN new_id;
                END $f$;
                CREATE OR REPLACE FUNCTION \(unescaped: Self.publishPackedFunction)(p_channel text, p_nsp text, p_uid text, p_payload bytea)
                RETURNS bigint LANGUAGE plpgsql AS $f$
                DECLARE new_id bigint;
                BEGIN
                    PERFORM pg_advisory_xact_lock(hashtext('\(unescaped: Self.packetsTable)'));
                    INSERT INTO \(unescaped: Self.packetsTable) (nsp, payload) VALUES (p_nsp, p_payload) RETURNING id INTO new_id;
                    PERFORM pg_notify(p_channel, json_build_object('uid', p_uid, 'nsp', p_nsp, 'loggedOffset', new_id::text)::text);
                    RETURN new_id;
                END $f$;
                END $$
                """, logger: logger)
        }
        ready.store(true, ordering: .relaxed)
    }

    /// False when the link is closed (nothing ran).
    private func execute(_ operation: Operation) async throws -> Bool {
        try await link.withConnection { connection in
            switch operation {
            case .upsert(let nsp, let node, let rows):
                for row in rows {
                    let rooms = JSONValue.array(row.rooms.sorted().map { .string($0) }).serialized()
                    try await connection.query("""
                        INSERT INTO \(unescaped: Self.sessionsTable) (pid, nsp, sid, rooms, data, node, connected, last_seen)
                        VALUES (\(row.pid), \(nsp), \(row.sid), \(rooms), \(row.data.serialized()), \(node), \(row.connected), now())
                        ON CONFLICT (pid) DO UPDATE SET sid = EXCLUDED.sid, rooms = EXCLUDED.rooms, data = EXCLUDED.data,
                            node = EXCLUDED.node, connected = EXCLUDED.connected, last_seen = now()
                        """, logger: logger)
                }
            case .refresh(let nsp, let node):
                try await connection.query("""
                    UPDATE \(unescaped: Self.sessionsTable) SET last_seen = now() WHERE node = \(node) AND nsp = \(nsp) AND connected
                    """, logger: logger)
            case .delete(let nsp, let node, let sid):
                try await connection.query("""
                    DELETE FROM \(unescaped: Self.sessionsTable) WHERE nsp = \(nsp) AND sid = \(sid) AND node = \(node)
                    """, logger: logger)
            case .cleanUp(let nsp, let maxAge):
                let seconds = Double(maxAge.nanoseconds) / 1e9
                try await connection.query("""
                    DELETE FROM \(unescaped: Self.sessionsTable) WHERE nsp = \(nsp) AND last_seen < now() - make_interval(secs => \(seconds))
                    """, logger: logger)
                try await connection.query("""
                    DELETE FROM \(unescaped: Self.packetsTable) WHERE nsp = \(nsp) AND created_at < now() - make_interval(secs => \(seconds))
                    """, logger: logger)
            case .restore(let nsp, let pid, let maxAge, let answer):
                let seconds = Double(maxAge.nanoseconds) / 1e9
                let rows = try await connection.query("""
                    DELETE FROM \(unescaped: Self.sessionsTable)
                    WHERE pid = \(pid) AND nsp = \(nsp) AND last_seen > now() - make_interval(secs => \(seconds))
                    RETURNING sid, rooms, data
                    """, logger: logger)
                var session: SocketIOSession?
                for try await (sid, rooms, data) in rows.decode((String, String, String).self) {
                    let roomList = (try? JSONValue(parsing: rooms))?.arrayValue?.compactMap(\.stringValue) ?? []
                    session = SocketIOSession(sid: sid, pid: pid, rooms: Set(roomList), data: (try? JSONValue(parsing: data)) ?? .null)
                }
                answer(session)
            case .restoreWithPackets(let nsp, let pid, let offset, let maxAge, let limit, let answer):
                let seconds = Double(maxAge.nanoseconds) / 1e9
                // One statement, one snapshot: the session goes only when the offset is
                // still in the table; the last id committed then comes with it.
                let taken = try await connection.query("""
                    WITH taken AS (
                        DELETE FROM \(unescaped: Self.sessionsTable)
                        WHERE pid = \(pid) AND nsp = \(nsp) AND last_seen > now() - make_interval(secs => \(seconds))
                          AND EXISTS (SELECT 1 FROM \(unescaped: Self.packetsTable) WHERE id = \(offset) AND nsp = \(nsp))
                        RETURNING sid, rooms, data)
                    SELECT sid, rooms, data, (SELECT coalesce(max(id), 0) FROM \(unescaped: Self.packetsTable)) FROM taken
                    """, logger: logger)
                var found: (SocketIOSession, Int64)?
                for try await (sid, rooms, data, high) in taken.decode((String, String, String, Int64).self) {
                    let roomList = (try? JSONValue(parsing: rooms))?.arrayValue?.compactMap(\.stringValue) ?? []
                    found = (SocketIOSession(sid: sid, pid: pid, rooms: Set(roomList), data: (try? JSONValue(parsing: data)) ?? .null), high)
                }
                guard let (session, high) = found else {
                    answer(nil)
                    return true
                }
                // Ids up to it were all committed before it (the publishing lock).
                let rows = try await connection.query("""
                    SELECT id, message, payload FROM \(unescaped: Self.packetsTable)
                    WHERE nsp = \(nsp) AND id > \(offset) AND id <= \(high) ORDER BY id LIMIT \(limit + 1)
                    """, logger: logger)
                var packets: [(offset: UInt64, message: ClusterMessage)] = []
                for try await (id, text, payload) in rows.decode((Int64, String?, ByteBuffer?).self) {
                    // JSON text, or MessagePack for the binary and large ones; a row that
                    // does not decode is left out (as a bad NOTIFY would be).
                    let message = try? payload.map { try ClusterMessage(messagePack: $0) }
                        ?? text.map { try ClusterMessage(json: JSONValue(parsing: $0)) }
                    if let message { packets.append((UInt64(id), message)) }
                }
                answer(packets.count > limit ? nil : TableRestore(session: session, packets: packets, through: UInt64(high)))
            }
            return true
        } ?? false
    }
}
