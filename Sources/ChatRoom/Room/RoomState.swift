import Duplex
import SocketIO

/// One room on the hub's event loop: who is in it (in order of arrival), who holds which
/// name here, the last messages delivered (history for joiners, with no store read once
/// loaded) and the recipients of a broadcast, kept between broadcasts.
final class RoomState {
    struct Entry {
        let order: UInt64
        let endpoint: ChatHub.Endpoint
        var name: String
        let identity: Int64
        /// When it arrived (ms since 1970).
        let since: Int64
    }

    let name: String
    /// When the room came to exist on this server (ms since 1970): people elsewhere who
    /// arrived before were there before its members, and are not announced to them.
    let createdAt = ChatClock.nowMilliseconds()
    private let recentCapacity: Int
    private(set) var entries: [ChatHub.MemberID: Entry] = [:]
    private var nextOrder: UInt64 = 0
    /// Name key → the identity holding it here and by how many connections (two tabs of
    /// one person share a name).
    private var holders: [String: (identity: Int64, connections: Int)] = [:]
    /// Connections per identity here.
    private var connections: [Int64: Int] = [:]
    /// The last messages delivered, oldest first.
    private(set) var recent: [StoredMessage] = []
    /// The id of the last message delivered: a room delivers in id order.
    private(set) var lastDelivered: Int64 = 0
    /// Recent messages have been read from the store.
    private(set) var loaded = false
    var loading = false
    /// Members waiting for the load to be placed.
    var waiting: [ChatHub.MemberID] = []
    /// A coalesced presence update is scheduled.
    var presenceScheduled = false
    /// Who is here changed since the other servers were last told.
    var membersChanged = false
    /// Sequential ids (several servers): the highest id the store is known to hold here,
    /// and whether a read of the missing ones is in flight.
    var knownLatest: Int64 = 0
    var catchingUp = false
    /// People in this room on other servers.
    private(set) var remote: [Int64: ChatHub.Person] = [:]
    private var remoteHolders: [String: Int64] = [:]
    private var recipients: Recipients?

    init(name: String, recentCapacity: Int) {
        self.name = name
        self.recentCapacity = max(recentCapacity, 1)
    }

    var count: Int { entries.count }
    var isUnused: Bool { entries.isEmpty && waiting.isEmpty && !loading && !catchingUp }

    /// The first load: what the store has, plus anything delivered while it was read.
    func seed(_ messages: [StoredMessage]) {
        let newer = recent.filter { $0.id > (messages.last?.id ?? 0) }
        recent = messages + newer
        trim()
        lastDelivered = max(lastDelivered, recent.last?.id ?? 0)
        loaded = true
        loading = false
    }

    /// Records a delivered message; false for one already delivered (ids only go up).
    func record(_ message: StoredMessage) -> Bool {
        guard message.id > lastDelivered else { return false }
        lastDelivered = message.id
        recent.append(message)
        if recent.count >= recentCapacity * 2 { trim() }
        return true
    }

    private func trim() {
        if recent.count > recentCapacity { recent.removeFirst(recent.count - recentCapacity) }
    }

    // MARK: - Members and names

    /// The identity holding `name` here (on this server or another) other than
    /// `identity`, if any.
    func holder(of name: String, other identity: Int64) -> Int64? {
        let key = ChatIdentity.nameKey(name)
        if let held = holders[key], held.identity != identity { return held.identity }
        if let held = remoteHolders[key], held != identity { return held }
        return nil
    }

    /// The people connected here on this server (the earliest arrival of each).
    func localPeople() -> [Int64: ChatHub.Person] {
        var people: [Int64: ChatHub.Person] = [:]
        for entry in entries.values where (people[entry.identity]?.since ?? .max) > entry.since {
            people[entry.identity] = ChatHub.Person(name: entry.name, since: entry.since)
        }
        return people
    }

    func isHere(_ identity: Int64) -> Bool { connections[identity] != nil }
    func isElsewhere(_ identity: Int64) -> Bool { remote[identity] != nil }

    /// Replaces who is here on other servers; returns the people who arrived (after this
    /// room came to exist here) and left; those also connected here did neither.
    func setRemote(_ people: [Int64: ChatHub.Person]) -> (arrived: [(Int64, String)], departed: [(Int64, String)]) {
        let arrived = people.filter { remote[$0.key] == nil && connections[$0.key] == nil && $0.value.since > createdAt }
            .map { ($0.key, $0.value.name) }
        let departed = remote.filter { people[$0.key] == nil && connections[$0.key] == nil }.map { ($0.key, $0.value.name) }
        remote = people
        remoteHolders = [:]
        for (identity, person) in people { remoteHolders[ChatIdentity.nameKey(person.name)] = identity }
        return (arrived, departed)
    }

    /// Adds a connection; true when it is its identity's first here (an arrival to announce).
    func add(_ id: ChatHub.MemberID, endpoint: ChatHub.Endpoint, name: String, identity: Int64) -> Bool {
        entries[id] = Entry(order: nextOrder, endpoint: endpoint, name: name, identity: identity, since: ChatClock.nowMilliseconds())
        nextOrder += 1
        hold(name, identity)
        recipients = nil
        membersChanged = true
        connections[identity, default: 0] += 1
        return connections[identity] == 1
    }

    /// Removes a connection; `departed` when it was its identity's last here.
    func remove(_ id: ChatHub.MemberID) -> (entry: Entry, departed: Bool)? {
        guard let entry = entries.removeValue(forKey: id) else { return nil }
        release(entry.name)
        recipients = nil
        membersChanged = true
        let left = (connections[entry.identity] ?? 1) - 1
        connections[entry.identity] = left > 0 ? left : nil
        return (entry, left == 0)
    }

    func rename(_ id: ChatHub.MemberID, to name: String) {
        guard let entry = entries[id] else { return }
        release(entry.name)
        entries[id]?.name = name
        hold(name, entry.identity)
        membersChanged = true
    }

    private func hold(_ name: String, _ identity: Int64) {
        let key = ChatIdentity.nameKey(name)
        holders[key] = (identity, (holders[key]?.connections ?? 0) + 1)
    }

    private func release(_ name: String) {
        let key = ChatIdentity.nameKey(name)
        guard let held = holders[key] else { return }
        holders[key] = held.connections > 1 ? (held.identity, held.connections - 1) : nil
    }

    /// Names in order of arrival, one per person, then those on other servers by name
    /// (O(n log n): small rooms only).
    func names() -> [String] {
        var seen = Set<String>()
        let local = entries.values.sorted { $0.order < $1.order }.compactMap { seen.insert(ChatIdentity.nameKey($0.name)).inserted ? $0.name : nil }
        let elsewhere = remote.filter { connections[$0.key] == nil }.map(\.value.name).sorted()
            .filter { seen.insert(ChatIdentity.nameKey($0)).inserted }
        return local + elsewhere
    }

    /// How many people (identities) are here, on this server and others.
    var people: Int { connections.count + remote.keys.lazy.filter { self.connections[$0] == nil }.count }

    // MARK: - Delivery

    private struct Recipients {
        var sockets: [WebSocketConnection] = []
        var socketIO: [SocketIOSocket] = []
        var custom: [@Sendable (ChatEnvelope) -> Void] = []
    }

    /// Sends to everyone in the room: the JSON is encoded once and framed once per event
    /// loop for all WebSocket members; the Socket.IO event is encoded once for all Socket.IO
    /// members (a room of N clients that do not read costs N references per event, not N
    /// copies). The recipient lists are rebuilt only after the membership changed.
    func broadcast(_ envelope: ChatEnvelope) {
        guard !entries.isEmpty else { return }
        if recipients == nil {
            var built = Recipients()
            for entry in entries.values {
                switch entry.endpoint {
                case .webSocket(let connection): built.sockets.append(connection)
                case .socketIO(let socket): built.socketIO.append(socket)
                case .custom(let deliver): built.custom.append(deliver)
                }
            }
            recipients = built
        }
        guard let recipients else { return }
        if !recipients.sockets.isEmpty { WebSocketServer.broadcast(envelope.json(), to: recipients.sockets) }
        if !recipients.socketIO.isEmpty { SocketIOChatBridge.broadcast(envelope, to: recipients.socketIO) }
        for deliver in recipients.custom { deliver(envelope) }
    }
}
