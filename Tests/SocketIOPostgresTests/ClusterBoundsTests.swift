import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import SocketIO
import Synchronization
import XCTest

@testable import SocketIOPostgres

/// Every queue of the cluster adapter has a bound; these push past each one.
final class ClusterBoundsTests: XCTestCase {
    private let loop = MultiThreadedEventLoopGroup.singleton.next()

    /// PostgreSQL unreachable: what waits to be sent is bounded, the oldest go.
    func testOutgoingQueueDropsTheOldestPastItsBound() {
        var options = PostgresAdapterOptions()
        options.maxPendingNotifications = 3
        // Never started: nothing is taken off the queue.
        let notifier = PostgresNotifier(
            configuration: .init(host: "127.0.0.1", port: 1, username: "x", password: nil, database: nil, tls: .disable),
            options: options, logger: Logger(label: "test"), eventLoop: loop,
            isOwn: { _, _ in false }, receive: { _, _ in }, onConnected: {})
        for n in 0..<10 {
            notifier.publish(ClusterMessage(type: .heartbeat, uid: "u\(n)", nsp: "/"), on: "socket.io#/")
        }
        XCTAssertEqual(notifier.droppedOutgoing, 7)
    }

    /// Notifications behind an attachment that is slow to read: bounded, new ones dropped.
    func testInboundQueueRefusesPastItsBound() throws {
        let received = Locked<[String]>([])
        let queue = InboundQueue(eventLoop: loop, limit: 3, logger: Logger(label: "test"), isOwn: { _, _ in false },
                                 receive: { _, message in received.withLock { $0.append(message.uid) } })
        let release = Locked<CheckedContinuation<Void, Never>?>(nil)
        queue.fetch = { _ in
            await withCheckedContinuation { continuation in release.withLock { $0 = continuation } }
            return ClusterMessage(type: .heartbeat, uid: "attached", nsp: "/")
        }
        try loop.submit {
            queue.received(channel: "c", payload: #"{"uid":"other","type":3,"attachmentId":"1"}"#)
            for n in 0..<5 { queue.received(channel: "c", payload: #"{"type":2,"uid":"m\#(n)","nsp":"/"}"#) }
        }.wait()
        XCTAssertEqual(try loop.submit { queue.pendingCount }.wait(), 3)
        XCTAssertEqual(try loop.submit { queue.dropped }.wait(), 3)
        XCTAssertEqual(received.withLock { $0 }, [], "nothing overtakes the attachment")
        // Once read, it and what waited behind it go on, in order.
        while release.withLock({ $0 }) == nil { usleep(1000) }
        release.withLock { $0?.resume() }
        let deadline = NIODeadline.now() + .seconds(5)
        while received.withLock({ $0.count }) < 3, NIODeadline.now() < deadline { usleep(1000) }
        XCTAssertEqual(received.withLock { $0 }, ["attached", "m0", "m1"])
    }

    /// Requests waiting for other nodes: bounded, the next fails at once; a node that
    /// leaves is no longer waited for; the timeout gives the reference's text.
    func testPendingRequestsAreBoundedAndEnd() throws {
        let requests = ClusterRequests(eventLoop: loop, limit: 2)
        let results = Locked<[String: Result<[JSONValue], SocketIOClusterError>]>([:])
        func record(_ id: String) -> ClusterRequests.Completion {
            { result in results.withLock { $0[id] = result } }
        }
        XCTAssertTrue(requests.startGathering(id: "a", nodes: ["n1", "n2"], initial: [], timeout: .seconds(60), completion: record("a")))
        XCTAssertTrue(requests.startGathering(id: "b", nodes: ["n1"], initial: [], timeout: .milliseconds(100), completion: record("b")))
        XCTAssertFalse(requests.startGathering(id: "c", nodes: ["n1"], initial: [], timeout: .seconds(60), completion: record("c")))
        XCTAssertEqual(results.withLock { $0["c"] }, .failure(.tooManyPendingRequests(limit: 2)))
        XCTAssertFalse(requests.startAck(id: "d", request: .init(clientCount: { _ in }, ack: { _ in }), timeout: .seconds(1)))

        requests.answer(id: "a", from: "n1", responses: [1])
        requests.answer(id: "a", from: "n1", responses: [9])  // a second answer from one node counts once
        requests.nodeLeft("n2")
        XCTAssertEqual(results.withLock { $0["a"] }, .success([1]))
        let deadline = NIODeadline.now() + .seconds(5)
        while results.withLock({ $0["b"] }) == nil, NIODeadline.now() < deadline { usleep(1000) }
        guard case .failure(let error) = results.withLock({ $0["b"] }) else { return XCTFail("b did not time out") }
        XCTAssertEqual(error.description, "timeout reached: missing 1 responses")
        XCTAssertEqual(requests.pendingCount, 0)
    }
}

/// A value shared with callbacks on other threads.
private final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}
