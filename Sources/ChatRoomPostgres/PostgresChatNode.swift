import ChatRoom
import DuplexPostgres
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// This process as one server of a chat shared through PostgreSQL: the store
/// (``PostgresChatStore``), and what the servers tell each other. Messages: each server
/// LISTENs for `<id> <room>` and reads what its members have not seen, in order. People:
/// each server writes who is in its rooms and a heartbeat; the others read it, so presence
/// counts everyone, and a server that stops beating is dropped after `presenceTimeout`.
///
/// ```swift
/// let node = try await PostgresChatNode.connect(configuration: try .init(url: url))
/// let server = ChatServer(configuration: configuration, store: node.store)
/// node.attach(server.hub)
/// …
/// await server.close(); await node.shutdown()
/// ```
public final class PostgresChatNode: Sendable {
    public struct Options: Sendable {
        /// This server's name among the others (unique per running process).
        public var nodeName = "node-\(UInt64.random(in: 1...UInt64.max) % 1_000_000_000)"
        /// How often this server says it is alive and reads the others' people.
        public var heartbeat: TimeAmount = .seconds(2)
        /// A server silent this long is taken for dead: its people leave.
        public var presenceTimeout: TimeAmount = .seconds(10)
        /// Rooms whose people wait to be written (PostgreSQL slow or down); beyond, the
        /// oldest wait for the next change or heartbeat.
        public var maxPendingRooms = 10_000
        public var reconnectDelay: TimeAmount = .milliseconds(250)
        public var maxReconnectDelay: TimeAmount = .seconds(2)
        public init() {}
    }

    public let options: Options
    public let store: PostgresChatStore
    private let link: PostgresLink
    private let logger: Logger
    private let hubBox = Mutex<ChatHub?>(nil)
    private let arrived = Mutex<[String: Int64]>([:])
    private let peopleToWrite = Mutex<[String: [Int64: ChatHub.Person]]>([:])
    private let roomsToRead = Mutex<Set<String>>([])
    private let writes: BoundedSendQueue<String>
    private let tasks = Mutex<[Task<Void, Never>]>([])

    private init(link: PostgresLink, options: Options, logger: Logger) {
        self.link = link
        self.options = options
        self.logger = logger
        self.store = PostgresChatStore(link: link, logger: logger)
        self.writes = BoundedSendQueue(limit: options.maxPendingRooms, logger: logger,
                                       dropMessage: "chat presence updates dropped: the queue is full (PostgreSQL slow or down)")
    }

    /// Checks that PostgreSQL answers (and creates the chat's tables), then keeps one
    /// connection open. Throws ``PostgresChatError/unreachable(_:)`` when it does not.
    public static func connect(configuration: PostgresConnection.Configuration, options: Options = Options(),
                               logger: Logger = Logger(label: "duplex.chat.postgres"),
                               eventLoop: EventLoop = MultiThreadedEventLoopGroup.singleton.next()) async throws -> PostgresChatNode {
        do {
            let first = try await PostgresConnection.connect(on: eventLoop, configuration: configuration, id: 0, logger: logger)
            do {
                try await PostgresChatSchema.create(on: first, logger: logger)
            } catch {
                try? await first.close()
                throw error
            }
            try? await first.close()
        } catch {
            throw PostgresChatError.unreachable(String(reflecting: error))
        }
        let box = Mutex<PostgresChatNode?>(nil)
        let link = PostgresLink(
            configuration: configuration, eventLoop: eventLoop, logger: logger,
            reconnectDelay: options.reconnectDelay, maxReconnectDelay: options.maxReconnectDelay,
            onConnected: { box.withLock { $0 }?.connected() })
        let node = PostgresChatNode(link: link, options: options, logger: logger)
        box.withLock { $0 = node }
        return node
    }

    /// Serves `hub`'s rooms with the other servers: call once, before serving.
    public func attach(_ hub: ChatHub) {
        hubBox.withLock { $0 = hub }
        hub.observePeople { [weak self] room, people in self?.peopleChanged(room, people) }
        link.listen(PostgresChatSchema.messagesChannel) { [weak self] _, payload in self?.messageNotified(payload) }
        link.listen(PostgresChatSchema.presenceChannel) { [weak self] _, payload in self?.peopleNotified(payload) }
        link.start()
        let started = [
            Task { await self.writes.run { await self.writePeople(of: $0) } },
            Task { await self.beat() },
        ]
        tasks.withLock { $0 = started }
    }

    /// Leaves: this server's people go from the others' presence at once; closes the link.
    public func shutdown() async {
        writes.finish()
        for task in tasks.withLock({ $0 }) { task.cancel() }
        if let connection = link.openConnection {
            _ = try? await connection.query(
                "WITH gone AS (DELETE FROM duplex_chat_presence WHERE node = \(options.nodeName) RETURNING room) SELECT pg_notify('duplex_chat_presence', \(options.nodeName) || ' ' || room) FROM (SELECT DISTINCT room FROM gone) AS r",
                logger: logger)
            _ = try? await connection.query("DELETE FROM duplex_chat_nodes WHERE node = \(options.nodeName)", logger: logger)
        }
        await link.close()
    }

    private var hub: ChatHub? { hubBox.withLock { $0 } }

    // MARK: - Messages

    /// `<id> <room>`: coalesced per room until the hub's loop takes them.
    private func messageNotified(_ payload: String) {
        guard let space = payload.firstIndex(of: " "), let id = Int64(payload[..<space]), let hub else { return }
        let room = String(payload[payload.index(after: space)...])
        let first = arrived.withLock { pending -> Bool in
            let wasEmpty = pending.isEmpty
            pending[room] = max(pending[room] ?? 0, id)
            return wasEmpty
        }
        guard first else { return }
        hub.eventLoop.execute { [self] in
            let batch = arrived.withLock { pending -> [String: Int64] in
                let taken = pending
                pending = [:]
                return taken
            }
            for (room, id) in batch { hub.storedElsewhere(room: room, upTo: id) }
        }
    }

    private func connected() {
        hub?.resynchronize()
        Task { await self.readPeople(rooms: nil) }
    }

    // MARK: - People

    /// This server's people in a room changed: written (latest state only) by one sender.
    private func peopleChanged(_ room: String, _ people: [Int64: ChatHub.Person]) {
        let first = peopleToWrite.withLock { pending -> Bool in
            let isNew = pending[room] == nil
            pending[room] = people
            return isNew
        }
        if first { writes.push(room) }
    }

    private func writePeople(of room: String) async {
        guard let people = peopleToWrite.withLock({ $0.removeValue(forKey: room) }) else { return }
        let ids = Array(people.keys)
        let names = ids.map { people[$0]?.name ?? "" }
        let sinces = ids.map { people[$0]?.since ?? 0 }
        do {
            let node = options.nodeName
            let logger = logger
            _ = try await link.withConnection { connection -> Void in
                try await connection.query("SELECT duplex_chat_set_people(\(node), \(room), \(ids), \(names), \(sinces))", logger: logger)
            }
        } catch {
            logger.warning("chat presence not written: \(String(reflecting: error))", metadata: ["room": "\(room)"])
        }
    }

    /// `<node> <room>`: another server's people changed there.
    private func peopleNotified(_ payload: String) {
        guard let space = payload.firstIndex(of: " "), payload[..<space] != options.nodeName else { return }
        let room = String(payload[payload.index(after: space)...])
        let first = roomsToRead.withLock { rooms -> Bool in
            let wasEmpty = rooms.isEmpty
            rooms.insert(room)
            return wasEmpty
        }
        guard first else { return }
        Task {
            let rooms = roomsToRead.withLock { rooms -> Set<String> in
                let taken = rooms
                rooms = []
                return taken
            }
            await readPeople(rooms: Array(rooms))
        }
    }

    /// Reads who is on the other (living) servers in `rooms` (nil: every room with members
    /// here) and tells the hub.
    private func readPeople(rooms requested: [String]?) async {
        guard let hub else { return }
        var rooms = requested ?? []
        if requested == nil { rooms = (try? await hub.activeRooms().get()) ?? [] }
        guard !rooms.isEmpty, let connection = link.openConnection else { return }
        let timeout = Double(options.presenceTimeout.nanoseconds) / 1e9
        var people: [String: [Int64: ChatHub.Person]] = [:]
        for room in rooms { people[room] = [:] }
        do {
            let rows = try await connection.query(
                """
                SELECT p.room, p.identity, p.name, p.since FROM duplex_chat_presence AS p JOIN duplex_chat_nodes AS n ON n.node = p.node
                WHERE p.node <> \(options.nodeName) AND n.seen > now() - make_interval(secs => \(timeout)) AND p.room = ANY(\(rooms))
                """, logger: logger)
            for try await (room, identity, name, since) in rows.decode((String, Int64, String, Int64).self) {
                people[room]?[identity] = ChatHub.Person(name: name, since: since)
            }
        } catch {
            logger.warning("chat presence not read: \(String(reflecting: error))")
            return
        }
        for (room, elsewhere) in people { hub.setPeopleElsewhere(room: room, elsewhere) }
    }

    /// Says this server is alive, and reads the others' people (a dead server's leave).
    private func beat() async {
        while !Task.isCancelled && !link.isClosed {
            if let connection = link.openConnection {
                do {
                    try await connection.query(
                        "INSERT INTO duplex_chat_nodes VALUES (\(options.nodeName), now()) ON CONFLICT (node) DO UPDATE SET seen = now()",
                        logger: logger)
                } catch {
                    logger.warning("chat heartbeat not written: \(String(reflecting: error))")
                }
                await readPeople(rooms: nil)
            }
            try? await Task.sleep(nanoseconds: UInt64(max(10_000_000, options.heartbeat.nanoseconds)))
        }
    }
}
