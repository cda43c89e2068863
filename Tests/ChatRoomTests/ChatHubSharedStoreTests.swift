import NIOCore
import NIOPosix
import XCTest

@testable import ChatRoom

/// Two hubs on one store, as two servers on one PostgreSQL: delivery in the store's order
/// whatever arrives first, catch-up after a gap, presence of the other server's people.
/// (The PostgreSQL store itself runs in Tests/chat_cluster, against a real server.)
final class ChatHubSharedStoreTests: XCTestCase {
    let loopA = MultiThreadedEventLoopGroup.singleton.next()
    let loopB = MultiThreadedEventLoopGroup.singleton.next()
    let storeLoop = MultiThreadedEventLoopGroup.singleton.next()

    private func hubs() -> (ChatHub, ChatHub) {
        let store = SequentialStore(MemoryHistoryStore(eventLoop: storeLoop))
        var settings = ChatHub.Settings()
        settings.presenceDelay = .zero
        return (ChatHub(store: store, eventLoop: loopA, settings: settings), ChatHub(store: store, eventLoop: loopB, settings: settings))
    }

    private func placed(_ hub: ChatHub, _ inbox: Inbox, name: String) async throws -> ChatHub.MemberID {
        let id = hub.join(inbox.endpoint, room: "r", name: name)
        try await hub.drain().get()
        return id
    }

    func testAServerDeliversInTheStoresOrderAfterAGap() async throws {
        let (a, b) = hubs()
        let ann = Inbox(), bob = Inbox()
        let annID = try await placed(a, ann, name: "Ann")
        let bobID = try await placed(b, bob, name: "Bob")
        a.receive("one", from: annID)  // id 1: B is not told yet
        try await a.drain().get()
        b.receive("two", from: bobID)  // id 2 on B: a gap, so B reads 1 first
        try await b.drain().get()
        XCTAssertEqual(bob.of(.message).map(\.text), ["one", "two"])
        XCTAssertEqual(bob.of(.message).map(\.id), [1, 2])
        // The late notice of 1 and 2 to B changes nothing; A catches up on 2.
        b.storedElsewhere(room: "r", upTo: 2)
        a.storedElsewhere(room: "r", upTo: 2)
        try await b.drain().get()
        try await a.drain().get()
        XCTAssertEqual(bob.of(.message).map(\.text), ["one", "two"], "no duplicate")
        XCTAssertEqual(ann.of(.message).map(\.text), ["one", "two"])
    }

    func testResynchronizeReadsWhatWasMissedWithoutANotice() async throws {
        let (a, b) = hubs()
        let ann = Inbox(), bob = Inbox()
        let annID = try await placed(a, ann, name: "Ann")
        try await placed(b, bob, name: "Bob")
        for text in ["x", "y", "z"] { a.receive(text, from: annID) }
        try await a.drain().get()
        XCTAssertEqual(bob.of(.message).count, 0)
        b.resynchronize()  // the link came back: every room reads after its last id
        try await b.drain().get()
        XCTAssertEqual(bob.of(.message).map(\.text), ["x", "y", "z"])
    }

    func testPeopleElsewhereCountAndAreAnnouncedOnlyWhenTheyArriveLater() async throws {
        let (a, _) = hubs()
        let ann = Inbox()
        try await placed(a, ann, name: "Ann")
        let now = ChatClock.nowMilliseconds()
        // Zed was there before the room existed here: counted, not announced.
        a.setPeopleElsewhere(room: "r", [900: .init(name: "Zed", since: now - 60_000)])
        try await a.drain().get()
        // Bob arrives on the other server: announced once.
        a.setPeopleElsewhere(room: "r", [900: .init(name: "Zed", since: now - 60_000), 901: .init(name: "Bob", since: now + 1)])
        a.setPeopleElsewhere(room: "r", [900: .init(name: "Zed", since: now - 60_000), 901: .init(name: "Bob", since: now + 1)])
        try await a.drain().get()
        XCTAssertEqual(ann.of(.enter).map(\.user), ["Ann", "Bob"])
        XCTAssertEqual(ann.of(.presence).last?.count, 3)
        XCTAssertEqual(ann.of(.presence).last?.online, ["Ann", "Bob", "Zed"])
        // A name held on the other server is taken here.
        let rival = Inbox()
        try await placed(a, rival, name: "Bob")
        XCTAssertEqual(rival.errorCodes, ["nickname_taken"])
        // The other server's people go (it died): their departure is announced.
        a.setPeopleElsewhere(room: "r", [:])
        try await a.drain().get()
        XCTAssertEqual(Set(ann.of(.leave).compactMap(\.user)), ["Bob", "Zed"])
        XCTAssertEqual(ann.of(.presence).last?.count, 2)
    }
}

/// A shared store whose ids go 1, 2, 3 in its one room (as the PostgreSQL store numbers
/// each room): the hubs then deliver strictly in sequence.
final class SequentialStore: ChatStore {
    private let inner: MemoryHistoryStore
    init(_ inner: MemoryHistoryStore) { self.inner = inner }
    var roomIDsAreSequential: Bool { true }
    func append(_ messages: [StoredMessage]) -> EventLoopFuture<[StoredMessage]> { inner.append(messages) }
    func recent(room: String, limit: Int) -> EventLoopFuture<[StoredMessage]> { inner.recent(room: room, limit: limit) }
    func since(room: String, after id: Int64, limit: Int) -> EventLoopFuture<[StoredMessage]> { inner.since(room: room, after: id, limit: limit) }
    func close() -> EventLoopFuture<Void> { inner.close() }
    func identity(tokenDigest: String) -> EventLoopFuture<ChatIdentity?> { inner.identity(tokenDigest: tokenDigest) }
    func createIdentity(tokenDigest: String, kept: Bool) -> EventLoopFuture<ChatIdentity> { inner.createIdentity(tokenDigest: tokenDigest, kept: kept) }
    func claim(name: String, for id: Int64) -> EventLoopFuture<Bool> { inner.claim(name: name, for: id) }
}
