import NIOCore

/// The hub's messages on their way into the store: batched (what arrives while a write is
/// in flight goes in the next one, one statement) and bounded (beyond `capacity` waiting
/// messages in all, or `roomCapacity` in one room, `submit` refuses: the sender is told,
/// nothing queues without bound). One write is in flight at a time, so the store hands out
/// ids in the order messages were accepted, and completions come back in that order.
/// Confined to the hub's event loop.
final class MessageWriter {
    struct Pending {
        let message: StoredMessage
        let sender: ChatHub.MemberID
    }

    private let eventLoop: EventLoop
    private let store: HistoryStore
    private let capacity: Int
    private let roomCapacity: Int
    private let maxBatch: Int
    private let completed: (_ batch: [Pending], _ result: Result<[StoredMessage], Error>) -> Void

    private var queued: [Pending] = []
    private var inFlight = 0
    private var flushScheduled = false
    private var perRoom: [String: Int] = [:]

    init(eventLoop: EventLoop, store: HistoryStore, capacity: Int, roomCapacity: Int, maxBatch: Int,
         completed: @escaping (_ batch: [Pending], _ result: Result<[StoredMessage], Error>) -> Void) {
        self.eventLoop = eventLoop
        self.store = store
        self.capacity = capacity
        self.roomCapacity = roomCapacity
        self.maxBatch = maxBatch
        self.completed = completed
    }

    /// Messages accepted and not yet stored.
    var count: Int { queued.count + inFlight }

    /// Accepts a message for storing; false (and nothing kept) when at capacity.
    func submit(_ message: StoredMessage, from sender: ChatHub.MemberID) -> Bool {
        guard count < capacity, perRoom[message.room, default: 0] < roomCapacity else { return false }
        perRoom[message.room, default: 0] += 1
        queued.append(Pending(message: message, sender: sender))
        // The write starts at the end of this tick, with whatever else the tick accepted.
        if inFlight == 0, !flushScheduled {
            flushScheduled = true
            eventLoop.assumeIsolated().execute { self.flush() }
        }
        return true
    }

    private func flush() {
        flushScheduled = false
        guard inFlight == 0, !queued.isEmpty else { return }
        let batch = Array(queued.prefix(maxBatch))
        queued.removeFirst(batch.count)
        inFlight = batch.count
        store.append(batch.map(\.message)).hop(to: eventLoop).assumeIsolated().whenComplete { result in
            self.inFlight = 0
            for pending in batch {
                let left = self.perRoom[pending.message.room, default: 1] - 1
                self.perRoom[pending.message.room] = left > 0 ? left : nil
            }
            self.completed(batch, result)
            if !self.queued.isEmpty { self.flush() }
        }
    }
}
