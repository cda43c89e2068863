import Duplex
import Logging
import NIOCore
import SocketIO
import Synchronization
import CoreMetrics

/// The room logic, whatever the transport: identities, names, rooms, presence, limits and
/// history.
///
/// All state lives on one event loop (`eventLoop`), and nothing waits in line behind the
/// store: a message is stored (in batches, ``MessageWriter``) before anyone sees it and
/// each room delivers in the store's id order; a joiner is placed as soon as its identity
/// is known, with history from the room's memory of its last messages (read from the
/// store once per room). Every queue is bounded: a message beyond capacity is refused with
/// an `overloaded` error to its sender.
public final class ChatHub: @unchecked Sendable {
    public struct Settings: Sendable {
        public var defaultRoom = "general"
        public var historyLimit = 50
        public var maxMessageLength = 2000
        public var rateLimit = 20
        public var rateWindowSeconds = 5
        /// Presence updates of a room within this window are sent as one (a join storm
        /// must not cost a list per join to every member). Zero sends each at once.
        public var presenceDelay: TimeAmount = .milliseconds(200)
        /// Above this many members a room is large: presence updates carry only `count`,
        /// at most one per `largeRoomPresenceDelay`, and arrivals and departures are not
        /// announced one by one (a join storm of N would cost N² frames).
        public var presenceListLimit = 200
        public var largeRoomPresenceDelay: TimeAmount = .seconds(1)
        /// Messages accepted and not yet stored, in all and per room; beyond, `overloaded`.
        public var maxPendingMessages = 4096
        public var maxPendingMessagesPerRoom = 1024
        /// Messages per store write.
        public var maxBatch = 256
        /// Commands a member may send while it waits for the store (its identity, a
        /// rename); beyond, `overloaded`.
        public var maxHeldCommands = 32
        /// Frames and commands on their way to the hub's event loop; beyond, they are refused
        /// with `overloaded` on the sender's own loop (a saturated hub does not let its task
        /// queue grow without end).
        public var maxInbox = 8192
        public init() {}
    }

    /// Where a member's messages go.
    public enum Endpoint: Sendable {
        /// A WebSocket client of the classic protocol: gets JSON text frames.
        case webSocket(WebSocketConnection)
        /// A Socket.IO client: gets the envelopes as events (see ``SocketIOChatBridge``); a
        /// broadcast is encoded once for all Socket.IO members, not once per member.
        case socketIO(SocketIOSocket)
        /// Any other transport: gets the envelopes, one call per member.
        case custom(@Sendable (ChatEnvelope) -> Void)
    }

    /// Someone in a room, as the servers sharing a store tell each other.
    public struct Person: Sendable, Equatable {
        public var name: String
        /// When they arrived in the room (ms since 1970).
        public var since: Int64
        public init(name: String, since: Int64) {
            self.name = name
            self.since = since
        }
    }

    /// A member's handle, returned by `join`. It carries the member's endpoint, so that a
    /// refusal at the door (the hub's inbox is full) needs no trip to the hub.
    public struct MemberID: Hashable, Sendable {
        let value: UInt64
        let endpoint: Endpoint

        public static func == (a: MemberID, b: MemberID) -> Bool { a.value == b.value }
        public func hash(into hasher: inout Hasher) { hasher.combine(value) }
    }

    private struct Member {
        let endpoint: Endpoint
        var identity: ChatIdentity?
        /// A token issued to this connection, sent with its welcome.
        var issuedToken: String?
        var name = ""
        /// The room whose broadcasts the member receives; nil until placed.
        var room: String?
        /// The room being entered.
        var target: String
        /// The last message the target room had delivered when the member asked for it:
        /// later ones reach it as live messages, even if it is placed after them.
        var joinedAfter: Int64?
        /// Waiting for the store (identity, room load, rename): commands are held.
        var waiting = true
        var held: [Result<ChatCommand, ChatError>] = []
        /// Closed while waiting with commands held: placed, its commands run, then removed
        /// (a client that sends and closes at once still gets its message out).
        var leaving = false
        /// Messages accepted from this member and not yet delivered: its departure waits
        /// for them (no "X left" above X's last words).
        var unstored = 0
        var limiter: RateLimiter
    }

    public let eventLoop: EventLoop
    public let settings: Settings
    private let store: ChatStore
    private let logger: Logger
    private let metrics: ChatMetrics
    private let nextMemberID = Atomic<UInt64>(1)
    private let inbox = Atomic<Int>(0)

    // Event-loop confined.
    private var members: [MemberID: Member] = [:]
    private var rooms: [String: RoomState] = [:]
    private var writer: MessageWriter!
    /// Store reads and writes other than messages in flight (identities, names, history
    /// loads), for `drain`.
    private var storeOperations = 0
    private var quietWaiters: [EventLoopPromise<Void>] = []
    /// Set by `close`: departures are no longer announced (a shutdown of N members must not
    /// cost N broadcasts to the rest).
    private var closing = false
    /// Told who is here on this server whenever that changed (coalesced like presence):
    /// the other servers sharing the store learn it through it.
    private var peopleObserver: (@Sendable (_ room: String, _ people: [Int64: Person]) -> Void)?

    /// `metricsFactory`: where the chat's metrics go (nil: the process-wide `MetricsSystem`).
    public init(store: ChatStore, eventLoop: EventLoop, settings: Settings = Settings(), logger: Logger = Logger(label: "duplex.chat"),
                metricsFactory: (any MetricsFactory)? = nil) {
        self.metrics = ChatMetrics(factory: metricsFactory ?? MetricsSystem.factory)
        self.store = store
        self.eventLoop = eventLoop
        self.settings = settings
        self.logger = logger
        self.writer = MessageWriter(
            eventLoop: eventLoop, store: store, capacity: settings.maxPendingMessages,
            roomCapacity: settings.maxPendingMessagesPerRoom, maxBatch: settings.maxBatch
        ) { [unowned self] batch, result in stored(batch, result) }
    }

    // MARK: - Entry points (callable from any thread)

    /// A person arrives, asking for a room and maybe a name (both validated), and
    /// presenting the identity token it keeps: nil for a classic client (a new identity
    /// that holds its name only while online), empty for a client that keeps tokens but
    /// has none yet, else the token (an unknown one gets a new identity).
    @discardableResult
    public func join(_ endpoint: Endpoint, room: String? = nil, name: String? = nil, token: String? = nil) -> MemberID {
        let id = MemberID(value: nextMemberID.wrappingAdd(1, ordering: .relaxed).oldValue, endpoint: endpoint)
        onLoop { $0.admit(id, endpoint: endpoint, room: room, name: name, token: token) }
        return id
    }

    /// A text frame from a member: a message or a JSON command.
    public func receive(_ frame: String, from id: MemberID) {
        guard admitToInbox(id) else { return }
        onLoop { $0.handle(ChatCommand.parse(frame), from: id) }
    }

    /// A command from a transport that names its commands itself (Socket.IO events).
    public func perform(_ command: ChatCommand, from id: MemberID) {
        guard admitToInbox(id) else { return }
        onLoop { $0.handle(.success(command), from: id) }
    }

    /// Counts a frame into the hub's inbox, or refuses it at once when the inbox is full.
    private func admitToInbox(_ id: MemberID) -> Bool {
        if inbox.wrappingAdd(1, ordering: .relaxed).newValue <= settings.maxInbox { return true }
        inbox.wrappingSubtract(1, ordering: .relaxed)
        send(.error(.overloaded), to: id.endpoint)
        return false
    }

    /// A frame the protocol does not accept (binary).
    public func refuse(_ error: ChatError, to id: MemberID) {
        onLoop { $0.reply(error, to: id) }
    }

    /// A person leaves (connection closed).
    public func leave(_ id: MemberID) {
        onLoop { $0.remove(id) }
    }

    // MARK: - Several servers on one store

    /// Set before serving when other servers share the store: called (on the hub's loop)
    /// with a room's people on this server, by identity, after each change.
    public func observePeople(_ observer: @escaping @Sendable (_ room: String, _ people: [Int64: Person]) -> Void) {
        eventLoop.execute { self.peopleObserver = observer }
    }

    /// Another server stored messages in `room`, up to `id`: read and delivered in order
    /// (only when the room has members here).
    public func storedElsewhere(room: String, upTo id: Int64) {
        onLoop { hub in
            guard let state = hub.rooms[room] else { return }
            state.knownLatest = max(state.knownLatest, id)
            hub.catchUp(state)
        }
    }

    /// After the link to the other servers was lost: every room reads what it missed.
    public func resynchronize() {
        onLoop { hub in
            for state in hub.rooms.values { hub.catchUp(state, probe: true) }
        }
    }

    /// The people in `room` on the other servers, by identity: arrivals and
    /// departures among them are announced here, presence counts them.
    public func setPeopleElsewhere(room: String, _ people: [Int64: Person]) {
        onLoop { hub in
            guard let state = hub.rooms[room] else { return }
            let before = state.people
            let (arrived, departed) = state.setRemote(people)
            for (uid, name) in arrived { hub.announce(.enter, name, uid: uid, in: state) }
            for (uid, name) in departed { hub.announce(.leave, name, uid: uid, in: state) }
            if !arrived.isEmpty || !departed.isEmpty || state.people != before { hub.broadcastPresence(state) }
        }
    }

    /// The rooms with members on this server.
    public func activeRooms() -> EventLoopFuture<[String]> {
        eventLoop.submit { self.rooms.values.filter { $0.count > 0 }.map(\.name) }
    }

    /// Reads the messages of `room` after the last one delivered (when the store holds
    /// more, or once after a lost link: `probe`), and delivers them in order.
    private func catchUp(_ room: RoomState, probe: Bool = false) {
        guard store.roomIDsAreSequential, room.loaded, !room.catchingUp, probe || room.knownLatest > room.lastDelivered else { return }
        room.catchingUp = true
        let limit = max(1, settings.maxBatch)
        whenStored(store.since(room: room.name, after: room.lastDelivered, limit: limit)) { [self] result in
            room.catchingUp = false
            switch result {
            case .success(let messages):
                for message in messages where message.id == room.lastDelivered + 1 { record(message, in: room) }
                if messages.count == limit { room.knownLatest = max(room.knownLatest, room.lastDelivered + 1) }
                catchUp(room)
            case .failure(let error):
                logger.warning("chat catch-up read failed, retrying", metadata: ["room": "\(room.name)", "error": "\(error)"])
                eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [self] in catchUp(room, probe: true) }
            }
            dropIfUnused(room)
        }
    }

    /// The names online in a room, in order of arrival.
    public func online(in room: String) -> EventLoopFuture<[String]> {
        eventLoop.submit { self.rooms[room]?.names() ?? [] }
    }

    /// Completes when every request so far has been answered: joiners placed, renames
    /// done, messages stored and delivered.
    public func drain() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            if self.isQuiet { return self.eventLoop.makeSucceededVoidFuture() }
            let promise = self.eventLoop.makePromise(of: Void.self)
            self.quietWaiters.append(promise)
            return promise.futureResult
        }
    }

    private var isQuiet: Bool { storeOperations == 0 && writer.count == 0 }

    private func checkQuiet() {
        guard isQuiet, !quietWaiters.isEmpty else { return }
        let waiters = quietWaiters
        quietWaiters = []
        for waiter in waiters { waiter.succeed() }
    }

    /// Runs `body` on the hub's loop once a store operation completes (counted for `drain`).
    private func whenStored<Value: Sendable>(_ future: EventLoopFuture<Value>, _ body: @escaping (Result<Value, Error>) -> Void) {
        storeOperations += 1
        future.hop(to: eventLoop).assumeIsolated().whenComplete { [self] result in
            body(result)
            storeOperations -= 1
            checkQuiet()
        }
    }

    /// Stops announcing departures and presence (the server is going down: its members
    /// leave all at once); messages accepted before are still stored and delivered.
    public func close() -> EventLoopFuture<Void> {
        eventLoop.submit { self.closing = true }
    }

    /// Always through the loop's task queue, even from the loop itself: requests then run
    /// in the order they were made. (Run inline, a message read on the hub's own loop could
    /// overtake a join queued just before by another loop, whose member would miss it.)
    private func onLoop(_ body: @escaping @Sendable (ChatHub) -> Void) {
        eventLoop.execute { body(self) }
    }

    // MARK: - Arrival: identity, name, room

    private func admit(_ id: MemberID, endpoint: Endpoint, room requestedRoom: String?, name requestedName: String?, token: String?) {
        var target = settings.defaultRoom
        if let requestedRoom, !requestedRoom.isEmpty {
            switch Validation.room(requestedRoom) {
            case .success(let valid): target = valid
            case .failure(let error): send(.error(error), to: endpoint)
            }
        }
        var wanted: String?
        if let requestedName, !requestedName.isEmpty {
            switch Validation.nickname(requestedName) {
            case .success(let valid): wanted = valid
            case .failure(let error): send(.error(error), to: endpoint)
            }
        }
        let limiter = RateLimiter(limit: settings.rateLimit, windowMilliseconds: Int64(settings.rateWindowSeconds) * 1000)
        members[id] = Member(endpoint: endpoint, target: target, joinedAfter: deliveredSoFar(in: target), limiter: limiter)
        whenStored(identify(token)) { [self] result in
            guard var member = members[id] else { return }
            switch result {
            case .success(let (identity, issued)):
                member.identity = identity
                member.issuedToken = issued
                member.name = identity.name
                members[id] = member
                if let wanted, ChatIdentity.nameKey(wanted) != ChatIdentity.nameKey(identity.name) {
                    claim(wanted, for: id) { [self] in enter(id) }
                } else {
                    enter(id)
                }
            case .failure(let error):
                logger.error("chat identity lookup failed", metadata: ["error": "\(error)"])
                members[id] = nil
                send(.error(.storeFailed), to: member.endpoint)
                if case .webSocket(let connection) = member.endpoint { connection.close(code: .internalServerError) }
            }
        }
    }

    /// The identity a token stands for, or a new one (with the token to give the client).
    private func identify(_ token: String?) -> EventLoopFuture<(ChatIdentity, String?)> {
        if let token, IdentityToken.isWellFormed(token) {
            return store.identity(tokenDigest: IdentityToken.digest(token)).hop(to: eventLoop).flatMap { [store, eventLoop] found in
                if let found { return eventLoop.makeSucceededFuture((found, nil)) }
                return Self.newIdentity(in: store, kept: true)
            }
        }
        return Self.newIdentity(in: store, kept: token != nil)
    }

    private static func newIdentity(in store: ChatStore, kept: Bool) -> EventLoopFuture<(ChatIdentity, String?)> {
        let token = IdentityToken.generate()
        return store.createIdentity(tokenDigest: IdentityToken.digest(token), kept: kept).map { ($0, token) }
    }

    private func deliveredSoFar(in room: String) -> Int64? {
        guard let state = rooms[room], state.loaded else { return nil }
        return state.lastDelivered
    }

    /// Puts a member whose identity is known into its target room: at once when the room's
    /// recent messages are in memory, else after one store read shared by every joiner.
    private func enter(_ id: MemberID) {
        guard let member = members[id] else { return }
        let room = rooms[member.target] ?? {
            let made = RoomState(name: member.target, recentCapacity: settings.historyLimit + 256)
            rooms[member.target] = made
            metrics.rooms.increment()
            return made
        }()
        if room.loaded {
            place(id, in: room)
            return
        }
        room.waiting.append(id)
        guard !room.loading else { return }
        room.loading = true
        whenStored(store.recent(room: room.name, limit: settings.historyLimit)) { [self] result in
            switch result {
            case .success(let messages): room.seed(messages)
            case .failure(let error):
                logger.error("chat history read failed", metadata: ["room": "\(room.name)", "error": "\(error)"])
                room.seed([])
            }
            let waiting = room.waiting
            room.waiting = []
            for id in waiting { place(id, in: room) }
            catchUp(room)
            dropIfUnused(room)
        }
    }

    /// Welcome and history to the member, then its arrival to the room.
    private func place(_ id: MemberID, in room: RoomState) {
        guard var member = members[id], member.target == room.name, let identity = member.identity else { return }
        if room.holder(of: member.name, other: identity.id) != nil {
            send(.error(.nicknameTaken(member.name)), to: member.endpoint)
            member.name = ChatIdentity.defaultName(identity.id)
        }
        member.room = room.name
        member.waiting = false
        let joinedAfter = member.joinedAfter
        members[id] = member
        let arrived = room.add(id, endpoint: member.endpoint, name: member.name, identity: identity.id)
        metrics.members.increment()
        var welcome = ChatEnvelope(type: .welcome, msg: "Welcome, \(member.name)", room: room.name)
        welcome.you = member.name
        welcome.uid = identity.id
        welcome.token = member.issuedToken
        welcome.limit = settings.maxMessageLength
        welcome.count = room.people
        if room.count <= settings.presenceListLimit { welcome.online = room.names() }
        send(welcome, to: member.endpoint)
        // History: what the room had delivered when the member asked (the last
        // `historyLimit`); what it delivered since comes as live messages.
        let cutoff = joinedAfter ?? room.lastDelivered
        let history = room.recent.lazy.filter { $0.id <= cutoff }.suffix(settings.historyLimit)
        for message in history { send(.message(message, history: true), to: member.endpoint) }
        for message in room.recent where message.id > cutoff { send(.message(message), to: member.endpoint) }
        if arrived, !room.isElsewhere(identity.id) { announce(.enter, member.name, uid: identity.id, in: room) }
        broadcastPresence(room)
        releaseHeld(id)
    }

    private func remove(_ id: MemberID) {
        if let member = members[id], (member.waiting && !member.held.isEmpty) || member.unstored > 0 {
            members[id]?.leaving = true
            return
        }
        guard let member = members.removeValue(forKey: id) else { return }
        if let roomName = member.room, let room = rooms[roomName] { exit(id, from: room) }
    }

    /// Takes a member out of its room and tells the room (if it was the person's last
    /// connection there).
    private func exit(_ id: MemberID, from room: RoomState) {
        guard let (entry, departed) = room.remove(id) else { return }
        metrics.members.decrement()
        if departed, !room.isElsewhere(entry.identity) { announce(.leave, entry.name, uid: entry.identity, in: room) }
        broadcastPresence(room)
        dropIfUnused(room)
    }

    private func dropIfUnused(_ room: RoomState) {
        if room.isUnused, !room.presenceScheduled, rooms[room.name] === room {
            rooms[room.name] = nil
            metrics.rooms.decrement()
        }
    }

    /// Enter and leave lines go to small rooms only (see `presenceListLimit`).
    private func announce(_ kind: ChatEnvelope.Kind, _ name: String, uid: Int64, in room: RoomState) {
        guard !closing, room.count <= settings.presenceListLimit else { return }
        var envelope = ChatEnvelope(type: kind, msg: kind == .enter ? "\(name) entered" : "\(name) left", room: room.name)
        envelope.user = name
        envelope.uid = uid
        room.broadcast(envelope)
    }

    // MARK: - Messages and commands

    private func handle(_ command: Result<ChatCommand, ChatError>, from id: MemberID) {
        inbox.wrappingSubtract(1, ordering: .relaxed)
        guard var member = members[id] else { return }
        let now = ChatClock.nowMilliseconds()
        guard member.limiter.allow(at: now) else {
            members[id] = member
            send(.error(.rateLimited(settings.rateLimit, settings.rateWindowSeconds)), to: member.endpoint)
            return
        }
        if member.waiting {
            if member.held.count < settings.maxHeldCommands {
                member.held.append(command)
            } else {
                send(.error(.overloaded), to: member.endpoint)
            }
            members[id] = member
            return
        }
        members[id] = member
        perform(command, from: id, at: now)
    }

    private func perform(_ command: Result<ChatCommand, ChatError>, from id: MemberID, at now: Int64) {
        switch command {
        case .failure(let error): reply(error, to: id)
        case .success(.say(let raw)): say(raw, from: id, at: now)
        case .success(.nick(let raw)): rename(id, to: raw)
        case .success(.join(let raw)): move(id, to: raw)
        }
    }

    /// Commands held while the member waited, in order, until one makes it wait again.
    private func releaseHeld(_ id: MemberID) {
        while let member = members[id], !member.waiting, let next = member.held.first {
            members[id]?.held.removeFirst()
            perform(next, from: id, at: ChatClock.nowMilliseconds())
        }
        if let member = members[id], member.leaving, !member.waiting, member.unstored == 0 { remove(id) }
    }

    private func say(_ raw: String, from id: MemberID, at now: Int64) {
        let text = raw.trimming(" \t\r\n")
        guard !text.isEmpty else { return reply(.empty, to: id) }
        guard text.unicodeScalars.count <= settings.maxMessageLength else { return reply(.tooLong(settings.maxMessageLength), to: id) }
        guard let member = members[id], let room = member.room else { return }
        let message = StoredMessage(room: room, user: member.name, userID: member.identity?.id, text: text, timestamp: now)
        if writer.submit(message, from: id) {
            members[id]?.unstored += 1
        } else {
            metrics.refused.increment()
            reply(.overloaded, to: id)
        }
    }

    /// A batch came back from the store: delivered in id order, or refused to its senders.
    private func stored(_ batch: [MessageWriter.Pending], _ result: Result<[StoredMessage], Error>) {
        switch result {
        case .success(let messages):
            for message in messages { deliver(message) }
        case .failure(let error):
            logger.error("chat store write failed", metadata: ["error": "\(error)", "messages": "\(batch.count)"])
            for pending in batch { reply(.storeFailed, to: pending.sender) }
        }
        for pending in batch {
            guard var sender = members[pending.sender] else { continue }
            sender.unstored -= 1
            members[pending.sender] = sender
            if sender.leaving, !sender.waiting, sender.unstored == 0 { remove(pending.sender) }
        }
        checkQuiet()
    }

    /// A message this server stored reaches its room. With sequential ids (several
    /// servers), only the next one in sequence goes out at once; after a gap the missing
    /// ones (stored by other servers) are read first.
    private func deliver(_ message: StoredMessage) {
        guard let room = rooms[message.room] else { return }
        if store.roomIDsAreSequential {
            room.knownLatest = max(room.knownLatest, message.id)
            guard room.loaded, !room.catchingUp, message.id == room.lastDelivered + 1 else { return catchUp(room) }
        }
        record(message, in: room)
    }

    private func record(_ message: StoredMessage, in room: RoomState) {
        guard room.record(message) else { return }
        metrics.messages.increment()
        room.broadcast(.message(message))
    }

    private func rename(_ id: MemberID, to raw: String) {
        switch Validation.nickname(raw) {
        case .failure(let error): reply(error, to: id)
        case .success(let name):
            guard let member = members[id], member.name != name else { return }
            members[id]?.waiting = true
            claim(name, for: id) { [self] in
                members[id]?.waiting = false
                releaseHeld(id)
            }
        }
    }

    /// Asks the store for a name (it decides, whoever else shares it), then checks the
    /// member's room; on success renames the member (announced if it is in a room).
    private func claim(_ name: String, for id: MemberID, then: @escaping () -> Void) {
        guard let member = members[id], let identity = member.identity else { return then() }
        if let roomName = member.room ?? Optional(member.target), let room = rooms[roomName], room.holder(of: name, other: identity.id) != nil {
            send(.error(.nicknameTaken(name)), to: member.endpoint)
            return then()
        }
        whenStored(store.claim(name: name, for: identity.id)) { [self] result in
            guard var member = members[id], var identity = member.identity else { return }
            let granted = (try? result.get()) ?? false
            let room = member.room.flatMap { rooms[$0] }
            if !granted || room?.holder(of: name, other: identity.id) != nil {
                send(.error(.nicknameTaken(name)), to: member.endpoint)
                return then()
            }
            let previous = member.name
            identity.chosenName = ChatIdentity.defaultNameOwner(name) == identity.id ? nil : name
            member.identity = identity
            member.name = name
            members[id] = member
            if let room {
                room.rename(id, to: name)
                var renamed = ChatEnvelope(type: .rename, msg: "\(previous) is now \(name)", room: room.name)
                renamed.user = name
                renamed.uid = identity.id
                renamed.previous = previous
                room.broadcast(renamed)
                broadcastPresence(room)
            }
            then()
        }
    }

    private func move(_ id: MemberID, to raw: String) {
        switch Validation.room(raw) {
        case .failure(let error): reply(error, to: id)
        case .success(let target):
            guard var member = members[id], member.room != target, let identity = member.identity else { return }
            if let current = member.room.flatMap({ rooms[$0] }) { exit(id, from: current) }
            member.room = nil
            member.target = target
            member.joinedAfter = deliveredSoFar(in: target)
            member.name = identity.name
            member.waiting = true
            members[id] = member
            enter(id)
        }
    }

    // MARK: - Delivery

    private func broadcastPresence(_ room: RoomState) {
        guard !closing else { return }
        let large = room.count > settings.presenceListLimit
        let delay = large ? max(settings.presenceDelay, settings.largeRoomPresenceDelay) : settings.presenceDelay
        guard delay > .zero else { return sendPresence(room) }
        guard !room.presenceScheduled else { return }
        room.presenceScheduled = true
        eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            room.presenceScheduled = false
            if !closing { sendPresence(room) }
            dropIfUnused(room)
        }
    }

    private func sendPresence(_ room: RoomState) {
        if room.membersChanged, let peopleObserver {
            room.membersChanged = false
            peopleObserver(room.name, room.localPeople())
        }
        var presence = ChatEnvelope(type: .presence, msg: "\(room.people) online", room: room.name)
        presence.count = room.people
        if room.count <= settings.presenceListLimit { presence.online = room.names() }
        room.broadcast(presence)
    }

    private func reply(_ error: ChatError, to id: MemberID) {
        if let member = members[id] { send(.error(error), to: member.endpoint) }
    }

    private func send(_ envelope: ChatEnvelope, to endpoint: Endpoint) {
        switch endpoint {
        case .webSocket(let connection): connection.send(envelope.json())
        case .socketIO(let socket): SocketIOChatBridge.send(envelope, to: socket)
        case .custom(let deliver): deliver(envelope)
        }
    }
}
