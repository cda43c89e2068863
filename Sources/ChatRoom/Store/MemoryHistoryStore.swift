import NIOCore
import Synchronization

/// History kept in memory only (tests, `--memory`): the last `capacity` messages per room.
public final class MemoryHistoryStore: HistoryStore {
    private let eventLoop: EventLoop
    private let capacity: Int
    private let state = Mutex<(nextID: Int64, rooms: [String: [StoredMessage]])>((1, [:]))

    /// A store whose futures complete on `eventLoop`, keeping the last `capacity` messages of
    /// each room.
    public init(eventLoop: EventLoop, capacity: Int = 1000) {
        self.eventLoop = eventLoop
        self.capacity = capacity
    }

    public func append(_ message: StoredMessage) -> EventLoopFuture<StoredMessage> {
        let stored = state.withLock { state -> StoredMessage in
            var message = message
            message.id = state.nextID
            state.nextID += 1
            state.rooms[message.room, default: []].append(message)
            if state.rooms[message.room]!.count > capacity {
                state.rooms[message.room]!.removeFirst(state.rooms[message.room]!.count - capacity)
            }
            return message
        }
        return eventLoop.makeSucceededFuture(stored)
    }

    public func recent(room: String, limit: Int) -> EventLoopFuture<[StoredMessage]> {
        let messages = state.withLock { Array(($0.rooms[room] ?? []).suffix(limit)) }
        return eventLoop.makeSucceededFuture(messages)
    }

    public func close() -> EventLoopFuture<Void> {
        eventLoop.makeSucceededVoidFuture()
    }
}
