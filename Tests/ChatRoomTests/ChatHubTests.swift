import Foundation
import NIOCore
import NIOPosix
import Synchronization
import XCTest

@testable import ChatRoom

/// Records what one member receives.
final class Inbox: Sendable {
    private let envelopes = Mutex<[ChatEnvelope]>([])
    var all: [ChatEnvelope] { envelopes.withLock { $0 } }
    var endpoint: ChatHub.Endpoint { .custom { envelope in self.envelopes.withLock { $0.append(envelope) } } }
    func of(_ kind: ChatEnvelope.Kind) -> [ChatEnvelope] { all.filter { $0.type == kind } }
    var errorCodes: [String] { of(.error).compactMap(\.code) }
}

final class ChatHubTests: XCTestCase {
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    /// The store completes on another event loop than the hub, as in production.
    let storeLoop = MultiThreadedEventLoopGroup.singleton.next()

    func makeHub(_ configure: (inout ChatHub.Settings) -> Void = { _ in }) -> ChatHub {
        var settings = ChatHub.Settings()
        settings.presenceDelay = .zero
        configure(&settings)
        return ChatHub(store: MemoryHistoryStore(eventLoop: storeLoop), eventLoop: loop, settings: settings)
    }

    /// Joins and waits until the member is placed (a client sends after its welcome).
    @discardableResult
    func joined(_ hub: ChatHub, _ inbox: Inbox, room: String? = nil, name: String? = nil, token: String? = nil) async throws -> ChatHub.MemberID {
        let id = hub.join(inbox.endpoint, room: room, name: name, token: token)
        try await hub.drain().get()
        return id
    }

    func testDefaultNamesAreNumberedWithoutReuse() async throws {
        let hub = makeHub()
        let a = Inbox(), b = Inbox(), c = Inbox()
        let idA = try await joined(hub, a)
        try await joined(hub, b)
        hub.leave(idA)
        try await joined(hub, c)
        XCTAssertEqual(a.of(.welcome).first?.you, "User 1")
        XCTAssertEqual(b.of(.welcome).first?.you, "User 2")
        XCTAssertEqual(c.of(.welcome).first?.you, "User 3", "numbers are never reused")
        // B saw A leave under A's own name.
        XCTAssertEqual(b.of(.leave).map(\.msg), ["User 1 left"])
        let online = try await hub.online(in: "general").get()
        XCTAssertEqual(online, ["User 2", "User 3"])
    }

    func testEnterMessageLeaveInOrderWithClassicFields() async throws {
        let hub = makeHub()
        let a = Inbox(), b = Inbox()
        let idA = try await joined(hub, a)
        let idB = try await joined(hub, b)
        hub.receive("hello from A", from: idA)
        hub.receive(#"{"cmd":"say","text":"你好 👋"}"#, from: idB)
        hub.leave(idA)
        try await hub.drain().get()

        let seen = b.all.filter { [.enter, .message, .leave].contains($0.type) }.map(\.msg)
        XCTAssertEqual(seen, ["User 2 entered", "User 1: hello from A", "User 2: 你好 👋", "User 1 left"])
        let message = try XCTUnwrap(b.of(.message).first)
        XCTAssertEqual(message.type.rawValue, 2)
        XCTAssertEqual(message.user, "User 1")
        XCTAssertEqual(message.text, "hello from A")
        XCTAssertNotNil(message.id)
        XCTAssertTrue(message.time.wholeMatch(of: /\d\d:\d\d:\d\d/) != nil, "time is HH:mm:ss, got \(message.time)")
        // The joiner's own sequence: welcome first, then its own enter line.
        XCTAssertEqual(b.all.first?.type, .welcome)
        XCTAssertEqual(b.all.dropFirst().first?.type, .enter)
    }

    func testRoomsAreIsolated() async throws {
        let hub = makeHub()
        let a = Inbox(), b = Inbox(), other = Inbox()
        let idA = try await joined(hub, a, room: "general")
        try await joined(hub, b, room: "general")
        try await joined(hub, other, room: "random")
        hub.receive("only general", from: idA)
        hub.leave(idA)
        try await hub.drain().get()
        XCTAssertEqual(b.of(.message).map(\.text), ["only general"])
        XCTAssertTrue(other.of(.message).isEmpty)
        XCTAssertTrue(other.of(.leave).isEmpty)
        XCTAssertEqual(other.of(.enter).map(\.msg), ["User 3 entered"], "only its own enter")
        XCTAssertEqual(other.of(.welcome).first?.room, "random")
    }

    func testJoinCommandMovesBetweenRooms() async throws {
        let hub = makeHub()
        let mover = Inbox(), stay = Inbox(), there = Inbox()
        let id = try await joined(hub, mover, room: "a")
        try await joined(hub, stay, room: "a")
        try await joined(hub, there, room: "b")
        hub.receive(#"{"cmd":"join","room":"b"}"#, from: id)
        hub.receive("now in b", from: id)
        try await hub.drain().get()
        XCTAssertEqual(stay.of(.leave).map(\.msg), ["User 1 left"])
        XCTAssertTrue(stay.of(.message).isEmpty)
        XCTAssertEqual(there.of(.message).map(\.text), ["now in b"])
        XCTAssertEqual(mover.of(.welcome).map(\.room), ["a", "b"])
        let onlineB = try await hub.online(in: "b").get()
        XCTAssertEqual(onlineB, ["User 3", "User 1"])
    }

    func testHistoryOnJoinIsTheLastMessagesOldestFirst() async throws {
        let hub = makeHub { $0.historyLimit = 3 }
        let a = Inbox()
        let id = try await joined(hub, a)
        for i in 1...5 { hub.receive("m\(i)", from: id) }
        try await hub.drain().get()
        let late = Inbox()
        try await joined(hub, late)
        let history = late.all.filter { $0.history == true }
        XCTAssertEqual(history.map(\.text), ["m3", "m4", "m5"])
        // Welcome, then history, then the enter line.
        XCTAssertEqual(late.all.map(\.type).prefix(5), [.welcome, .message, .message, .message, .enter])
    }

    func testLimitsAnswerTheSenderOnly() async throws {
        let hub = makeHub { $0.maxMessageLength = 10; $0.rateLimit = 4; $0.rateWindowSeconds = 60 }
        let sender = Inbox(), other = Inbox()
        let id = try await joined(hub, sender)
        try await joined(hub, other)
        hub.receive(String(repeating: "x", count: 11), from: id)  // too long
        hub.receive("   ", from: id)  // empty
        hub.receive("{not json", from: id)  // bad command
        hub.receive(#"{"cmd":"dance"}"#, from: id)  // unknown command
        hub.receive("fifth", from: id)  // over the rate
        try await hub.drain().get()
        XCTAssertEqual(sender.errorCodes, ["too_long", "empty", "bad_command", "bad_command", "rate_limited"])
        XCTAssertTrue(other.of(.error).isEmpty)
        XCTAssertTrue(other.of(.message).isEmpty)
        XCTAssertTrue(sender.of(.error).allSatisfy { !$0.msg.isEmpty })
        // Exactly the limit is fine: 10 characters, counted as Unicode scalars.
        let fresh = makeHub { $0.maxMessageLength = 10 }
        let inbox = Inbox()
        let freshID = fresh.join(inbox.endpoint)
        fresh.receive("日本語のテキスト12", from: freshID)
        try await fresh.drain().get()
        XCTAssertEqual(inbox.of(.message).map(\.text), ["日本語のテキスト12"])
    }

    func testNicknames() async throws {
        let hub = makeHub()
        let a = Inbox(), b = Inbox()
        let idA = try await joined(hub, a)
        let idB = try await joined(hub, b, name: "Bob")
        hub.receive(#"{"cmd":"nick","name":"  Alice  "}"#, from: idA)
        hub.receive(#"{"cmd":"nick","name":"bob"}"#, from: idA)  // taken, case-insensitive
        hub.receive(#"{"cmd":"nick","name":"bad\u0007name"}"#, from: idA)
        hub.receive(#"{"cmd":"nick","name":""}"#, from: idA)
        hub.receive("{\"cmd\":\"nick\",\"name\":\"\(String(repeating: "n", count: 33))\"}", from: idA)
        hub.receive("hi", from: idA)
        hub.receive("yo", from: idB)
        try await hub.drain().get()
        XCTAssertEqual(b.of(.welcome).first?.you, "Bob")
        XCTAssertEqual(b.of(.rename).map(\.msg), ["User 1 is now Alice"])
        XCTAssertEqual(b.of(.rename).first?.previous, "User 1")
        XCTAssertEqual(a.errorCodes, ["nickname_taken", "bad_nickname", "bad_nickname", "bad_nickname"])
        // A's "hi" waited for its rename (a store round trip), B's "yo" did not: the order
        // between them is the store's, the same for everyone.
        XCTAssertEqual(Set(b.of(.message).map(\.msg)), ["Alice: hi", "Bob: yo"])
        XCTAssertEqual(a.of(.message).map(\.msg), b.of(.message).map(\.msg))
        let uids = Dictionary(uniqueKeysWithValues: b.of(.message).map { ($0.user ?? "", $0.uid) })
        XCTAssertEqual(uids["Alice"], a.of(.welcome).first?.uid, "own messages are known by identity")
        XCTAssertEqual(uids["Bob"], b.of(.welcome).first?.uid)
        XCTAssertEqual(b.of(.presence).last?.online, ["Alice", "Bob"])
    }

    func testPresenceIsCoalescedAndListsOnlySmallRooms() async throws {
        let hub = makeHub { $0.presenceDelay = .milliseconds(100); $0.largeRoomPresenceDelay = .milliseconds(100); $0.presenceListLimit = 3 }
        let first = Inbox()
        hub.join(first.endpoint)
        for _ in 0..<4 { hub.join(Inbox().endpoint) }
        try await Task.sleep(nanoseconds: 300_000_000)
        try await hub.drain().get()
        let presence = first.of(.presence)
        XCTAssertEqual(presence.count, 1, "five joins within the window give one presence update")
        XCTAssertEqual(presence.first?.count, 5)
        XCTAssertNil(presence.first?.online, "above the list limit only the count is sent")
        XCTAssertEqual(first.of(.enter).count, 3, "arrivals are announced one by one in small rooms only")
    }

    func testConcurrentJoinsAndMessagesFromManyThreads() async throws {
        let hub = makeHub()
        let watcher = Inbox()
        hub.join(watcher.endpoint)
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<150 {
                group.addTask {
                    let id = hub.join(Inbox().endpoint)
                    hub.receive("m\(i)", from: id)
                    if i % 2 == 0 { hub.leave(id) }
                }
            }
        }
        try await hub.drain().get()
        XCTAssertEqual(watcher.of(.message).count, 150, "a message sent at once, then a close: still delivered")
        XCTAssertEqual(watcher.of(.enter).count, 151)
        let online = try await hub.online(in: "general").get()
        XCTAssertEqual(online.count, 76)
    }

    func testMessagesBeyondCapacityAreRefusedAndNothingQueues() async throws {
        let store = GatedStore(MemoryHistoryStore(eventLoop: storeLoop), eventLoop: storeLoop)
        var settings = ChatHub.Settings()
        settings.maxPendingMessages = 3
        settings.maxPendingMessagesPerRoom = 3
        settings.presenceDelay = .zero
        let hub = ChatHub(store: store, eventLoop: loop, settings: settings)
        let sender = Inbox(), watcher = Inbox()
        let id = try await joined(hub, sender)
        try await joined(hub, watcher)
        store.hold()
        for i in 1...6 { hub.receive("m\(i)", from: id) }
        // one write in flight (m1), two waiting (m2, m3): the other three are refused
        try await Task.sleep(nanoseconds: 200_000_000)
        XCTAssertEqual(sender.errorCodes, ["overloaded", "overloaded", "overloaded"])
        XCTAssertTrue(watcher.of(.message).isEmpty, "nothing is seen before it is stored")
        store.release()
        try await hub.drain().get()
        XCTAssertEqual(watcher.of(.message).map(\.text), ["m1", "m2", "m3"])
        XCTAssertTrue(watcher.of(.error).isEmpty)
        // capacity is back once stored
        hub.receive("m7", from: id)
        try await hub.drain().get()
        XCTAssertEqual(watcher.of(.message).last?.text, "m7")
    }

    func testIdentitiesAreKeptByTokenAndNamesByTheStore() async throws {
        let hub = makeHub()
        let first = Inbox()
        let id = try await joined(hub, first, token: "")
        let welcome = try XCTUnwrap(first.of(.welcome).first)
        let token = try XCTUnwrap(welcome.token)
        hub.receive(#"{"cmd":"nick","name":"Ada"}"#, from: id)
        hub.leave(id)
        try await hub.drain().get()
        let again = Inbox()
        try await joined(hub, again, token: token)
        XCTAssertEqual(again.of(.welcome).first?.uid, welcome.uid)
        XCTAssertEqual(again.of(.welcome).first?.you, "Ada")
        XCTAssertNil(again.of(.welcome).first?.token)
        // a forged token: a new identity, a new name, a new token
        let forger = Inbox()
        try await joined(hub, forger, token: String(repeating: "a", count: 64))
        XCTAssertNotEqual(forger.of(.welcome).first?.uid, welcome.uid)
        XCTAssertNotNil(forger.of(.welcome).first?.token)
        // Ada's name is hers even in another room, and default names are reserved
        let other = Inbox()
        let otherID = try await joined(hub, other, room: "elsewhere", token: "")
        hub.receive(#"{"cmd":"nick","name":"ADA"}"#, from: otherID)
        hub.receive("{\"cmd\":\"nick\",\"name\":\"User \(welcome.uid ?? 0)\"}", from: otherID)
        try await hub.drain().get()
        XCTAssertEqual(other.errorCodes, ["nickname_taken", "nickname_taken"])
    }

    func testAJoinerGetsEveryLaterMessageExactlyOnceInOrder() async throws {
        // Joiners arrive while messages are being stored and delivered: each must see, as
        // history or live, an unbroken run of ids up to the last one, with no repeats.
        let hub = makeHub { $0.historyLimit = 5 }
        let sender = Inbox()
        let id = try await joined(hub, sender)
        let joiners = (0..<20).map { _ in Inbox() }
        for (i, joiner) in joiners.enumerated() {
            for k in 0..<10 { hub.receive("m\(i)-\(k)", from: id) }
            hub.join(joiner.endpoint)
            try await Task.sleep(nanoseconds: 2_000_000)
        }
        try await hub.drain().get()
        let last = try XCTUnwrap(sender.of(.message).last?.id)
        for joiner in joiners {
            let ids = joiner.of(.message).compactMap(\.id)
            XCTAssertFalse(ids.isEmpty)
            XCTAssertEqual(ids, Array(ids[0]...last), "a gap or a repeat: \(ids)")
        }
    }

    func testASaturatedHubRefusesAtTheDoor() async throws {
        // The hub's loop is busy (here: blocked); frames beyond `maxInbox` on their way to it
        // are refused at once, on the sender's side, instead of queueing behind it.
        let hub = makeHub { $0.maxInbox = 2 }
        let sender = Inbox(), watcher = Inbox()
        let id = try await joined(hub, sender)
        try await joined(hub, watcher)
        let busy = hub.eventLoop.submit { Thread.sleep(forTimeInterval: 0.3) }
        for i in 1...5 { hub.receive("m\(i)", from: id) }
        XCTAssertEqual(sender.errorCodes, ["overloaded", "overloaded", "overloaded"], "refused before the hub ran")
        try await busy.get()
        try await hub.drain().get()
        XCTAssertEqual(watcher.of(.message).map(\.text), ["m1", "m2"])
        hub.receive("m6", from: id)  // room again once the inbox drained
        try await hub.drain().get()
        XCTAssertEqual(watcher.of(.message).last?.text, "m6")
    }

    func testEnvelopeJSONKeepsTheClassicFields() throws {
        var envelope = ChatEnvelope(type: .enter, msg: "User 1 entered", timestamp: 0, room: "general")
        envelope.user = "User 1"
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(envelope.json().utf8)) as? [String: Any])
        XCTAssertEqual(object["type"] as? Int, 0)
        XCTAssertEqual(object["msg"] as? String, "User 1 entered")
        XCTAssertNotNil(object["time"] as? String)
        XCTAssertNil(object["history"], "absent optional fields are omitted")
    }

    func testValidationAndRateLimiter() {
        XCTAssertEqual(try? Validation.room("dev-ops_1.x").get(), "dev-ops_1.x")
        XCTAssertNotNil(try? Validation.room("房间").get())
        XCTAssertNil(try? Validation.room("a b").get())
        XCTAssertNil(try? Validation.room("").get())
        XCTAssertEqual(try? Validation.nickname(" 小明 🐼 ").get(), "小明 🐼")
        XCTAssertNil(try? Validation.nickname("a\u{200B}b").get(), "zero-width space is a format character")
        var limiter = RateLimiter(limit: 2, windowMilliseconds: 1000)
        XCTAssertTrue(limiter.allow(at: 0))
        XCTAssertTrue(limiter.allow(at: 10))
        XCTAssertFalse(limiter.allow(at: 999))
        XCTAssertTrue(limiter.allow(at: 1000), "the first event left the window")
    }
}

final class SQLiteHistoryStoreTests: XCTestCase {
    func testHistorySurvivesARestart() async throws {
        let path = NSTemporaryDirectory() + "duplex-chat-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }

        let store = try await SQLiteHistoryStore.open(path: path)
        var ids: [Int64] = []
        for (i, room) in ["general", "general", "random", "general"].enumerated() {
            let stored = try await store.append(StoredMessage(room: room, user: "User \(i)", text: "m\(i) 你好", timestamp: Int64(i))).get()
            ids.append(stored.id)
        }
        XCTAssertEqual(ids, ids.sorted())
        try await store.close().get()

        let reopened = try await SQLiteHistoryStore.open(path: path)
        let general = try await reopened.recent(room: "general", limit: 2).get()
        XCTAssertEqual(general.map(\.text), ["m1 你好", "m3 你好"])
        XCTAssertEqual(general.map(\.user), ["User 1", "User 3"])
        let random = try await reopened.recent(room: "random", limit: 10).get()
        XCTAssertEqual(random.map(\.text), ["m2 你好"])
        try await reopened.close().get()
    }

    func testHubWithSQLiteReplaysHistoryAfterRestart() async throws {
        let path = NSTemporaryDirectory() + "duplex-chat-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let loop = MultiThreadedEventLoopGroup.singleton.next()

        let store = try await SQLiteHistoryStore.open(path: path)
        let hub = ChatHub(store: store, eventLoop: loop)
        let id = hub.join(Inbox().endpoint)
        hub.receive("before restart", from: id)  // held until the member is placed
        try await hub.drain().get()
        try await store.close().get()

        let store2 = try await SQLiteHistoryStore.open(path: path)
        let hub2 = ChatHub(store: store2, eventLoop: loop)
        let inbox = Inbox()
        hub2.join(inbox.endpoint)
        try await hub2.drain().get()
        XCTAssertEqual(inbox.all.filter { $0.history == true }.map(\.msg), ["User 1: before restart"])
        try await store2.close().get()
    }
}

/// A store whose writes wait while held (a slow disk), to push the hub past its bounds.
final class GatedStore: ChatStore, @unchecked Sendable {
    private let inner: MemoryHistoryStore
    private let eventLoop: EventLoop
    private let gate = Mutex<(held: Bool, waiting: [@Sendable () -> Void])>((false, []))

    init(_ inner: MemoryHistoryStore, eventLoop: EventLoop) {
        self.inner = inner
        self.eventLoop = eventLoop
    }

    func hold() { gate.withLock { $0.held = true } }

    func release() {
        let waiting = gate.withLock { state -> [@Sendable () -> Void] in
            state.held = false
            defer { state.waiting = [] }
            return state.waiting
        }
        for run in waiting { run() }
    }

    func append(_ messages: [StoredMessage]) -> EventLoopFuture<[StoredMessage]> {
        let promise = eventLoop.makePromise(of: [StoredMessage].self)
        let run: @Sendable () -> Void = { [inner] in inner.append(messages).cascade(to: promise) }
        let now = gate.withLock { state -> Bool in
            if state.held { state.waiting.append(run) }
            return !state.held
        }
        if now { run() }
        return promise.futureResult
    }

    func recent(room: String, limit: Int) -> EventLoopFuture<[StoredMessage]> { inner.recent(room: room, limit: limit) }
    func since(room: String, after id: Int64, limit: Int) -> EventLoopFuture<[StoredMessage]> { inner.since(room: room, after: id, limit: limit) }
    func close() -> EventLoopFuture<Void> { inner.close() }
    func identity(tokenDigest: String) -> EventLoopFuture<ChatIdentity?> { inner.identity(tokenDigest: tokenDigest) }
    func createIdentity(tokenDigest: String, kept: Bool) -> EventLoopFuture<ChatIdentity> { inner.createIdentity(tokenDigest: tokenDigest, kept: kept) }
    func claim(name: String, for id: Int64) -> EventLoopFuture<Bool> { inner.claim(name: name, for: id) }
}
