import NIOCore
import Synchronization

/// The other nodes of one namespace, by uid, with when each was last heard from.
final class NodeMembership: Sendable {
    private let lastSeen = Mutex<[String: NIODeadline]>([:])
    private let timeout: TimeAmount

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    /// A message from `uid` came.
    func heard(_ uid: String, at now: NIODeadline = .now()) {
        lastSeen.withLock { $0[uid] = now }
    }

    /// Forgets `uid`; returns whether it was known.
    @discardableResult
    func remove(_ uid: String) -> Bool {
        lastSeen.withLock { $0.removeValue(forKey: uid) != nil }
    }

    /// Drops the nodes silent for longer than the timeout; returns their uids.
    func sweep(now: NIODeadline = .now()) -> [String] {
        lastSeen.withLock { nodes in
            let silent = nodes.filter { now - $0.value > timeout }.map(\.key)
            for uid in silent { nodes[uid] = nil }
            return silent
        }
    }

    var peers: Set<String> { lastSeen.withLock { Set($0.keys) } }
    var count: Int { lastSeen.withLock { $0.count } }
}
