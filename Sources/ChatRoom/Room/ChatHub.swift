import Duplex
import Logging
import NIOCore
import SocketIO
import Synchronization

/// The room logic, whatever the transport: names, rooms, presence, limits and history.
///
/// All state lives on one event loop (`eventLoop`), and every change that others see goes
/// through one serial chain of futures, so the order of events is the same for everyone:
/// a joiner gets the welcome and history before any later message, and a message is
/// broadcast only after the store has it.
public final class ChatHub: @unchecked Sendable {
    /// The room rules; the defaults are the chat protocol's (docs/chat-protocol.md).
    public struct Settings: Sendable {
        /// The room of clients that name none.
        public var defaultRoom = "general"
        /// How many of the room's last messages a joiner gets replayed.
        public var historyLimit = 50
        /// The longest message, in Unicode scalars after trimming; longer is `too_long`.
        public var maxMessageLength = 2000
        /// The most frames (messages and commands) a connection may send per window.
        public var rateLimit = 20
        /// The sliding window of ``rateLimit``, in seconds.
        public var rateWindowSeconds = 5
        /// Presence updates of a room within this window are sent as one (a join storm
        /// must not cost a list per join to every member). Zero sends each at once.
        public var presenceDelay: TimeAmount = .milliseconds(200)
        /// Above this many members, presence updates carry only `count`: clients keep the
        /// list from the welcome and the enter/leave/rename events.
        public var presenceListLimit = 200
        /// The defaults: room `general`, 50 messages of history, 2,000 characters, 20 frames
        /// per 5 s.
        public init() {}
    }

    /// Where a member's messages go.
    public enum Endpoint: Sendable {
        /// A WebSocket client of the classic protocol: gets JSON text frames.
        case webSocket(WebSocketConnection)
        /// A Socket.IO client: gets the envelopes as events (see `SocketIOChatBridge`); a
        /// broadcast is encoded once for all Socket.IO members, not once per member.
        case socketIO(SocketIOSocket)
        /// Any other transport: gets the envelopes, one call per member.
        case custom(@Sendable (ChatEnvelope) -> Void)
    }

    /// A member's handle, returned by `join`.
    public struct MemberID: Hashable, Sendable {
        let value: UInt64
    }

    private struct Member {
        let endpoint: Endpoint
        var name: String
        /// The room whose broadcasts the member receives; nil until admitted.
        var room: String?
        var limiter: RateLimiter
    }

    /// The event loop all room state lives on.
    public let eventLoop: EventLoop
    /// The room rules the hub was created with.
    public let settings: Settings
    private let store: HistoryStore
    private let logger: Logger
    private let nextMemberID = Atomic<UInt64>(1)

    // Event-loop confined.
    private var nextUserNumber = 1
    private var members: [MemberID: Member] = [:]
    /// The members' endpoints alone, for broadcasts: a lookup per member copies no
    /// `Member` (a broadcast to a room touches every member).
    private var endpoints: [MemberID: Endpoint] = [:]
    private var rooms: [String: [MemberID]] = [:]
    private var presencePending: Set<String> = []
    private var tail: EventLoopFuture<Void>

    /// A hub with its history store; its state lives on `eventLoop`.
    public init(store: HistoryStore, eventLoop: EventLoop, settings: Settings = Settings(), logger: Logger = Logger(label: "duplex.chat")) {
        self.store = store
        self.eventLoop = eventLoop
        self.settings = settings
        self.logger = logger
        self.tail = eventLoop.makeSucceededVoidFuture()
    }

    // MARK: - Entry points (callable from any thread)

    /// A person arrives, asking for a room and maybe a name (both validated).
    @discardableResult
    public func join(_ endpoint: Endpoint, room: String? = nil, name: String? = nil) -> MemberID {
        let id = MemberID(value: nextMemberID.wrappingAdd(1, ordering: .relaxed).oldValue)
        onLoop { $0.admit(id, endpoint: endpoint, room: room, name: name) }
        return id
    }

    /// A text frame from a member: a message or a JSON command.
    public func receive(_ frame: String, from id: MemberID) {
        onLoop { $0.handle(ChatCommand.parse(frame), from: id) }
    }

    /// A command from a transport that names its commands itself (Socket.IO events).
    public func perform(_ command: ChatCommand, from id: MemberID) {
        onLoop { $0.handle(.success(command), from: id) }
    }

    /// A frame the protocol does not accept (binary).
    public func refuse(_ error: ChatError, to id: MemberID) {
        onLoop { $0.reply(error, to: id) }
    }

    /// A person leaves (connection closed).
    public func leave(_ id: MemberID) {
        onLoop { $0.remove(id) }
    }

    /// The names online in a room, in order of arrival.
    public func online(in room: String) -> EventLoopFuture<[String]> {
        eventLoop.submit { self.names(in: room) }
    }

    /// Completes when every event so far has been stored and delivered.
    public func drain() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit { self.tail }
    }

    /// Always through the loop's task queue, even from the loop itself: requests then run
    /// in the order they were made. (Run inline, a message read on the hub's own loop could
    /// overtake a join queued just before by another loop, whose member would miss it.)
    private func onLoop(_ body: @escaping @Sendable (ChatHub) -> Void) {
        eventLoop.execute { body(self) }
    }

    /// Appends a step to the serial chain. Steps run on `eventLoop`; a step that waits for
    /// the store must hop back to it before touching the hub's state.
    private func enqueue(_ step: @escaping () -> EventLoopFuture<Void>) {
        eventLoop.preconditionInEventLoop()
        let logger = self.logger
        tail = tail.assumeIsolated().flatMap { step() }.nonisolated().recover { error in
            logger.error("chat step failed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Arrival and departure

    private func admit(_ id: MemberID, endpoint: Endpoint, room requestedRoom: String?, name requestedName: String?) {
        let number = nextUserNumber
        nextUserNumber += 1
        var room = settings.defaultRoom
        if let requestedRoom, !requestedRoom.isEmpty {
            switch Validation.room(requestedRoom) {
            case .success(let valid): room = valid
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
        endpoints[id] = endpoint
        members[id] = Member(endpoint: endpoint, name: "User \(number)", room: nil,
                             limiter: RateLimiter(limit: settings.rateLimit, windowMilliseconds: Int64(settings.rateWindowSeconds) * 1000))
        enter(id, room: room, wantedName: wanted)
    }

    /// Puts a member into a room: welcome and history to them, then enter and presence to all.
    /// The wanted name is checked here, in the chain, so that departures queued before
    /// (a client reconnecting after a drop) have freed it.
    private func enter(_ id: MemberID, room: String, wantedName: String? = nil) {
        enqueue { [self] in enterStep(id, room: room, wantedName: wantedName) }
    }

    /// The body of `enter`, for steps that move a member within one step.
    private func enterStep(_ id: MemberID, room: String, wantedName: String? = nil) -> EventLoopFuture<Void> {
        store.recent(room: room, limit: settings.historyLimit).hop(to: eventLoop).map { [self] history in
            guard var member = members[id] else { return }
            if let wantedName {
                if isTaken(wantedName, in: room, except: nil) {
                    send(.error(.nicknameTaken(wantedName)), to: member.endpoint)
                } else {
                    member.name = wantedName
                }
            }
            member.room = room
            members[id] = member
            rooms[room, default: []].append(id)
            var welcome = ChatEnvelope(type: .welcome, msg: "Welcome, \(member.name)", room: room)
            welcome.you = member.name
            welcome.online = names(in: room)
            send(welcome, to: member.endpoint)
            for message in history { send(.message(message, history: true), to: member.endpoint) }
            var entered = ChatEnvelope(type: .enter, msg: "\(member.name) entered", room: room)
            entered.user = member.name
            broadcast(entered, to: room)
            broadcastPresence(room)
        }
    }

    private func remove(_ id: MemberID) {
        enqueue { [self] in
            endpoints[id] = nil
            if let member = members.removeValue(forKey: id) { exit(id, member) }
            return eventLoop.makeSucceededVoidFuture()
        }
    }

    /// Takes a member out of their room and tells the room.
    private func exit(_ id: MemberID, _ member: Member) {
        guard let room = member.room else { return }
        rooms[room]?.removeAll { $0 == id }
        if rooms[room]?.isEmpty == true { rooms[room] = nil }
        var left = ChatEnvelope(type: .leave, msg: "\(member.name) left", room: room)
        left.user = member.name
        broadcast(left, to: room)
        broadcastPresence(room)
    }

    // MARK: - Messages and commands

    private func handle(_ command: Result<ChatCommand, ChatError>, from id: MemberID) {
        guard var member = members[id] else { return }
        let now = ChatClock.nowMilliseconds()
        guard member.limiter.allow(at: now) else {
            reply(.rateLimited(settings.rateLimit, settings.rateWindowSeconds), to: id)
            return
        }
        members[id] = member
        switch command {
        case .failure(let error):
            reply(error, to: id)
        case .success(.say(let raw)):
            say(raw, from: id, at: now)
        case .success(.nick(let raw)):
            rename(id, to: raw)
        case .success(.join(let raw)):
            switch Validation.room(raw) {
            case .failure(let error): reply(error, to: id)
            case .success(let room):
                enqueue { [self] in
                    guard var current = members[id], current.room != room else { return eventLoop.makeSucceededVoidFuture() }
                    exit(id, current)
                    current.room = nil
                    if isTaken(current.name, in: room, except: nil) { current.name = "User \(nextUserNumber)"; nextUserNumber += 1 }
                    members[id] = current
                    return enterStep(id, room: room)
                }
            }
        }
    }

    private func say(_ raw: String, from id: MemberID, at now: Int64) {
        let text = raw.trimming(" \t\r\n")
        guard !text.isEmpty else {
            reply(.empty, to: id)
            return
        }
        guard text.unicodeScalars.count <= settings.maxMessageLength else {
            reply(.tooLong(settings.maxMessageLength), to: id)
            return
        }
        enqueue { [self] in
            // The name and room at this point of the chain (after earlier renames and moves).
            guard let current = members[id], let room = current.room else { return eventLoop.makeSucceededVoidFuture() }
            let message = StoredMessage(room: room, user: current.name, text: text, timestamp: now)
            return store.append(message).hop(to: eventLoop).map { [self] stored in
                broadcast(.message(stored), to: stored.room)
            }
        }
    }

    private func rename(_ id: MemberID, to raw: String) {
        let name: String
        switch Validation.nickname(raw) {
        case .failure(let error):
            reply(error, to: id)
            return
        case .success(let valid):
            name = valid
        }
        enqueue { [self] in
            guard var current = members[id], current.name != name else { return eventLoop.makeSucceededVoidFuture() }
            if let room = current.room, isTaken(name, in: room, except: id) {
                send(.error(.nicknameTaken(name)), to: current.endpoint)
                return eventLoop.makeSucceededVoidFuture()
            }
            let previous = current.name
            current.name = name
            members[id] = current
            if let room = current.room {
                var renamed = ChatEnvelope(type: .rename, msg: "\(previous) is now \(name)", room: room)
                renamed.user = name
                renamed.previous = previous
                broadcast(renamed, to: room)
                broadcastPresence(room)
            }
            return eventLoop.makeSucceededVoidFuture()
        }
    }

    // MARK: - Delivery

    private func names(in room: String) -> [String] {
        (rooms[room] ?? []).compactMap { members[$0]?.name }
    }

    private func isTaken(_ name: String, in room: String, except: MemberID?) -> Bool {
        let lowered = name.lowercased()
        return (rooms[room] ?? []).contains { $0 != except && members[$0]?.name.lowercased() == lowered }
    }

    private func broadcastPresence(_ room: String) {
        guard settings.presenceDelay > .zero else {
            sendPresence(room)
            return
        }
        guard presencePending.insert(room).inserted else { return }
        eventLoop.scheduleTask(in: settings.presenceDelay) { [self] in
            enqueue { [self] in
                presencePending.remove(room)
                sendPresence(room)
                return eventLoop.makeSucceededVoidFuture()
            }
        }
    }

    private func sendPresence(_ room: String) {
        let online = names(in: room)
        var presence = ChatEnvelope(type: .presence, msg: "\(online.count) online", room: room)
        presence.count = online.count
        if online.count <= settings.presenceListLimit { presence.online = online }
        broadcast(presence, to: room)
    }

    /// Sends to everyone in the room: the JSON is encoded once and the same WebSocket
    /// frame is written to every WebSocket member; the Socket.IO event is encoded once and
    /// shared by every Socket.IO member (a room of N clients that do not read costs N
    /// references per event, not N copies).
    private func broadcast(_ envelope: ChatEnvelope, to room: String) {
        guard let ids = rooms[room], !ids.isEmpty else { return }
        var sockets: [WebSocketConnection] = []
        var socketIO: [SocketIOSocket] = []
        for id in ids {
            switch endpoints[id] {
            case .webSocket(let connection): sockets.append(connection)
            case .socketIO(let socket): socketIO.append(socket)
            case .custom(let deliver): deliver(envelope)
            case nil: break
            }
        }
        if !sockets.isEmpty { WebSocketServer.broadcast(envelope.json(), to: sockets) }
        if !socketIO.isEmpty { SocketIOChatBridge.broadcast(envelope, to: socketIO) }
    }

    /// A refusal, sent through the chain so that answers keep the order of the commands.
    private func reply(_ error: ChatError, to id: MemberID) {
        enqueue { [self] in
            if let member = members[id] { send(.error(error), to: member.endpoint) }
            return eventLoop.makeSucceededVoidFuture()
        }
    }

    private func send(_ envelope: ChatEnvelope, to endpoint: Endpoint) {
        switch endpoint {
        case .webSocket(let connection): connection.send(envelope.json())
        case .socketIO(let socket): SocketIOChatBridge.send(envelope, to: socket)
        case .custom(let deliver): deliver(envelope)
        }
    }
}
