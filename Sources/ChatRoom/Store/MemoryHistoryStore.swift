import NIOCore
import Synchronization

/// History and identities kept in memory only (tests, `--memory`): the last `capacity`
/// messages per room.
public final class MemoryHistoryStore: ChatStore {
    private struct State {
        var nextMessageID: Int64 = 1
        var rooms: [String: [StoredMessage]] = [:]
        var identities: [Int64: ChatIdentity] = [:]
        var byDigest: [String: Int64] = [:]
        /// Names held by kept identities, by name key.
        var names: [String: Int64] = [:]
    }

    private let eventLoop: EventLoop
    private let capacity: Int
    private let state = Mutex(State())

    /// A store whose futures complete on `eventLoop`, keeping the last `capacity` messages of
    /// each room.
    public init(eventLoop: EventLoop, capacity: Int = 1000) {
        self.eventLoop = eventLoop
        self.capacity = capacity
    }

    public func append(_ messages: [StoredMessage]) -> EventLoopFuture<[StoredMessage]> {
        let stored = state.withLock { state -> [StoredMessage] in
            messages.map { message in
                var message = message
                message.id = state.nextMessageID
                state.nextMessageID += 1
                state.rooms[message.room, default: []].append(message)
                if state.rooms[message.room]!.count > capacity {
                    state.rooms[message.room]!.removeFirst(state.rooms[message.room]!.count - capacity)
                }
                return message
            }
        }
        return eventLoop.makeSucceededFuture(stored)
    }

    public func recent(room: String, limit: Int) -> EventLoopFuture<[StoredMessage]> {
        let messages = state.withLock { Array(($0.rooms[room] ?? []).suffix(limit)) }
        return eventLoop.makeSucceededFuture(messages)
    }

    public func since(room: String, after id: Int64, limit: Int) -> EventLoopFuture<[StoredMessage]> {
        let messages = state.withLock { Array(($0.rooms[room] ?? []).lazy.filter { $0.id > id }.prefix(limit)) }
        return eventLoop.makeSucceededFuture(messages)
    }

    public func identity(tokenDigest: String) -> EventLoopFuture<ChatIdentity?> {
        let found = state.withLock { state -> ChatIdentity? in
            guard let id = state.byDigest[tokenDigest], var identity = state.identities[id] else { return nil }
            if !identity.kept {
                identity.kept = true
                // A name a kept identity took meanwhile stays theirs.
                if let name = identity.chosenName, let holder = state.names[ChatIdentity.nameKey(name)], holder != id {
                    identity.chosenName = nil
                }
                state.identities[id] = identity
                if let name = identity.chosenName { Self.reserve(name, for: id, in: &state) }
            }
            return identity
        }
        return eventLoop.makeSucceededFuture(found)
    }

    public func createIdentity(tokenDigest: String, kept: Bool) -> EventLoopFuture<ChatIdentity> {
        let identity = state.withLock { state -> ChatIdentity in
            let id = Int64(state.identities.count + 1)
            let identity = ChatIdentity(id: id, kept: kept)
            state.identities[id] = identity
            state.byDigest[tokenDigest] = id
            return identity
        }
        return eventLoop.makeSucceededFuture(identity)
    }

    public func claim(name: String, for id: Int64) -> EventLoopFuture<Bool> {
        let granted = state.withLock { state -> Bool in
            let key = ChatIdentity.nameKey(name)
            if let owner = ChatIdentity.defaultNameOwner(name), owner != id { return false }
            if let holder = state.names[key], holder != id { return false }
            guard var identity = state.identities[id] else { return false }
            if let previous = identity.chosenName, state.names[ChatIdentity.nameKey(previous)] == id {
                state.names[ChatIdentity.nameKey(previous)] = nil
            }
            identity.chosenName = ChatIdentity.defaultNameOwner(name) == id ? nil : name
            state.identities[id] = identity
            if identity.kept, identity.chosenName != nil { Self.reserve(name, for: id, in: &state) }
            return true
        }
        return eventLoop.makeSucceededFuture(granted)
    }

    private static func reserve(_ name: String, for id: Int64, in state: inout State) {
        state.names[ChatIdentity.nameKey(name)] = id
    }

    public func close() -> EventLoopFuture<Void> {
        eventLoop.makeSucceededVoidFuture()
    }
}
