import NIOCore

/// The packet log and the disconnected sessions of one namespace on one node, bounded by
/// count, bytes and age (``SocketIOConnectionStateRecovery``). A value: the in-memory
/// adapter keeps it under its lock.
///
/// Offsets are increasing numbers (written as decimal strings, the client reads them as
/// opaque): this node's own counter, or a cluster's global order (then with gaps, the other
/// namespaces' offsets); lookups are binary searches. What a client sends is only looked
/// up: a pid or offset that is not here means no recovery.
struct RecoveryLog {
    struct Entry {
        let offset: UInt64
        let rooms: Set<String>
        let except: Set<String>
        let packet: SocketIOEncodedPacket
        let loggedAt: NIODeadline
        let size: Int
    }

    private struct StoredSession {
        let session: SocketIOSession
        let disconnectedAt: NIODeadline
        let size: Int
        /// Tells this entry from an older one of the same pid in `sessionOrder`.
        let generation: UInt64
    }

    let limits: SocketIOConnectionStateRecovery
    private(set) var entries = CircularBuffer<Entry>()
    private(set) var loggedBytes = 0
    private var lastOffset: UInt64 = 0
    private var sessions: [String: StoredSession] = [:]
    /// Pids oldest first, for eviction; entries whose session was restored or replaced stay
    /// until they reach the front (or a compaction).
    private var sessionOrder = CircularBuffer<(pid: String, generation: UInt64)>()
    private var generation: UInt64 = 0
    private(set) var sessionBytes = 0

    init(limits: SocketIOConnectionStateRecovery) {
        self.limits = limits
    }

    var sessionCount: Int { sessions.count }

    // MARK: - Packets

    /// The offset the next logged packet takes.
    mutating func nextOffset() -> UInt64 {
        lastOffset += 1
        return lastOffset
    }

    /// Logs a packet (already carrying `offset`, greater than any logged before); the
    /// oldest go past the bounds.
    mutating func append(offset: UInt64, options: SocketIOBroadcastOptions, packet: SocketIOEncodedPacket, now: NIODeadline) {
        lastOffset = max(lastOffset, offset)
        let size = packet.text.utf8.count + packet.attachments.reduce(0) { $0 + $1.readableBytes }
            + options.rooms.reduce(0) { $0 + $1.utf8.count } + options.except.reduce(0) { $0 + $1.utf8.count }
        entries.append(Entry(offset: offset, rooms: options.rooms, except: options.except, packet: packet,
                             loggedAt: now, size: size))
        loggedBytes += size
        while let first = entries.first,
              entries.count > limits.maxLoggedPackets || loggedBytes > limits.maxLoggedBytes
                || first.loggedAt + limits.maxDisconnectionDuration < now {
            dropOldestPacket()
        }
    }

    private mutating func dropOldestPacket() {
        let dropped = entries.removeFirst()
        loggedBytes -= dropped.size
    }

    mutating func removeAllPackets() {
        entries.removeAll()
        loggedBytes = 0
    }

    /// Whether the packet with this offset is still in the log (the reference recovers only then).
    func contains(offset: UInt64) -> Bool {
        let index = firstIndex(notBelow: offset)
        return index < entries.count && entries[entries.index(entries.startIndex, offsetBy: index)].offset == offset
    }

    /// The position of the first entry whose offset is `offset` or more (binary search).
    private func firstIndex(notBelow offset: UInt64) -> Int {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[entries.index(entries.startIndex, offsetBy: middle)].offset < offset {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low
    }

    /// The logged packets after `offset` that a socket in `session`'s rooms would have received, in order.
    func missed(after offset: UInt64, by session: SocketIOSession) -> [SocketIOEncodedPacket] {
        guard offset < lastOffset else { return [] }
        let start = firstIndex(notBelow: offset + 1)
        var missed: [SocketIOEncodedPacket] = []
        for entry in entries.dropFirst(start) {
            if session.wouldReceive(rooms: entry.rooms, except: entry.except) { missed.append(entry.packet) }
        }
        return missed
    }

    /// Drops what is older than the maximum disconnection duration.
    mutating func expire(now: NIODeadline) {
        while let first = entries.first, first.loggedAt + limits.maxDisconnectionDuration < now { dropOldestPacket() }
        while let first = sessionOrder.first {
            if let stored = sessions[first.pid], stored.generation == first.generation {
                guard stored.disconnectedAt + limits.maxDisconnectionDuration < now else { break }
                removeSession(first.pid)
            }
            sessionOrder.removeFirst()
        }
    }

    // MARK: - Sessions

    /// Keeps a disconnected socket's session; the oldest go past the bounds. False when
    /// the session alone is bigger than the byte bound (it is not kept).
    @discardableResult
    mutating func persist(_ session: SocketIOSession, now: NIODeadline) -> Bool {
        expire(now: now)
        let size = session.size
        guard size <= limits.maxSessionBytes, limits.maxSessions > 0 else { return false }
        removeSession(session.pid)
        generation += 1
        sessions[session.pid] = StoredSession(session: session, disconnectedAt: now, size: size, generation: generation)
        sessionOrder.append((session.pid, generation))
        sessionBytes += size
        while sessions.count > limits.maxSessions || sessionBytes > limits.maxSessionBytes,
              let oldest = sessionOrder.popFirst() {
            if let stored = sessions[oldest.pid], stored.generation == oldest.generation { removeSession(oldest.pid) }
        }
        // Restored sessions leave stale order entries behind: keep the queue near the table's size.
        if sessionOrder.count > 2 * max(sessions.count, 64) {
            sessionOrder = CircularBuffer(sessionOrder.filter { sessions[$0.pid]?.generation == $0.generation })
        }
        return true
    }

    /// Takes the session `pid` out when it has not expired and `offset` is still logged;
    /// nil otherwise (an expired session goes too).
    mutating func restore(pid: String, offset: String, now: NIODeadline) -> SocketIOSession? {
        guard let stored = sessions[pid] else { return nil }
        guard stored.disconnectedAt + limits.maxDisconnectionDuration >= now else {
            removeSession(pid)
            return nil
        }
        guard let offset = UInt64(offset), contains(offset: offset) else { return nil }
        removeSession(pid)
        return stored.session
    }

    private mutating func removeSession(_ pid: String) {
        if let removed = sessions.removeValue(forKey: pid) { sessionBytes -= removed.size }
    }
}
