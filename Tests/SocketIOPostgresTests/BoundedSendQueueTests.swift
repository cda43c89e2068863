import DuplexPostgres
import Logging
import XCTest

/// The shared PostgreSQL layer's send queue (the cluster adapter's NOTIFYs, the chat's
/// presence writes): pushing never waits, and past its bound the oldest go.
final class BoundedSendQueueTests: XCTestCase {
    func testPastItsBoundTheOldestAreDroppedAndCounted() async {
        let queue = BoundedSendQueue<Int>(limit: 3, logger: Logger(label: "test"), dropMessage: "dropped")
        var kept: [Bool] = []
        for n in 0..<10 { kept.append(queue.push(n)) }
        XCTAssertEqual(kept, [true, true, true] + Array(repeating: false, count: 7))
        XCTAssertEqual(queue.droppedCount, 7)
        queue.finish()
        var sent: [Int] = []
        await queue.run { sent.append($0) }
        XCTAssertEqual(sent, [7, 8, 9], "the newest are sent, in order")
    }
}
