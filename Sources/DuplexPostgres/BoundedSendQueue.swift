import Logging
import Synchronization

/// Statements waiting for PostgreSQL, taken off one at a time by a single sender. Pushing
/// never waits: past `limit` the oldest waiting item goes, counted and logged (every
/// thousandth), so a PostgreSQL that is slow or down costs bounded memory.
package final class BoundedSendQueue<Item: Sendable>: Sendable {
    package let limit: Int
    private let stream: AsyncStream<Item>
    private let input: AsyncStream<Item>.Continuation
    private let dropped = Atomic<Int>(0)
    private let logger: Logger
    private let dropMessage: String

    /// - Parameter dropMessage: the warning logged when items are dropped.
    package init(limit: Int, logger: Logger, dropMessage: String) {
        self.limit = max(1, limit)
        self.logger = logger
        self.dropMessage = dropMessage
        (stream, input) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingNewest(self.limit))
    }

    /// Items dropped so far because the queue was full.
    package var droppedCount: Int { dropped.load(ordering: .relaxed) }

    /// Queues `item`; false when that pushed an older one out.
    @discardableResult
    package func push(_ item: Item) -> Bool {
        switch input.yield(item) {
        case .dropped:
            let count = dropped.wrappingAdd(1, ordering: .relaxed).newValue
            if count == 1 || count % 1000 == 0 {
                logger.warning("\(dropMessage)", metadata: ["limit": "\(limit)", "droppedSoFar": "\(count)"])
            }
            return false
        case .enqueued, .terminated:
            return true
        @unknown default:
            return true
        }
    }

    /// Hands every item to `send`, one at a time, until ``finish()`` (and what was queued
    /// before it is sent) or cancellation.
    package func run(_ send: (Item) async -> Void) async {
        for await item in stream {
            await send(item)
        }
    }

    /// No more items: ``run(_:)`` ends once it has sent those still queued.
    package func finish() {
        input.finish()
    }
}
