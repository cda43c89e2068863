import Logging
import NIOCore
import SocketIO

/// Connection state recovery across nodes: broadcasts go through the log in PostgreSQL
/// (their offsets in one global order), every node (the sender too) delivers them when
/// their notification arrives and keeps them in its in-memory log; sessions live in
/// PostgreSQL, so a client whose node died recovers on another one. See RecoveryDatabase
/// and docs/cluster.md.
extension PostgresAdapter {
    /// Every second: vouch for the connected sockets' sessions (and write any changed one
    /// still waiting); every ten: drop what is older than the maximum disconnection duration.
    func startRecovery() {
        guard recovery != nil, let limits = context.recovery else { return }
        let loop = notifier.eventLoop
        let writes = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak self] _ in
            guard let self, let recovery = self.recovery else { return }
            self.writeChangedSessions()
            recovery.enqueue(.refresh(nsp: self.context.namespace, node: self.uid))
        }
        let cleanups = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(10)) { [weak self] _ in
            guard let self, let recovery = self.recovery else { return }
            recovery.enqueue(.cleanUp(nsp: self.context.namespace, maxAge: limits.maxDisconnectionDuration))
        }
        recoveryTimers.withLock { $0 = [writes, cleanups] }
    }

    /// Delivers here without an offset (not recoverable).
    func deliverUnlogged(_ packet: SocketIOPacket, options: SocketIOBroadcastOptions) {
        if context.recovery != nil {
            local.broadcastUnlogged(packet, options: options)
        } else {
            local.broadcast(packet, options: options)
        }
    }

    /// Sends a loggable broadcast through the log (binary and large ones too: see
    /// `sendLogged`); false when it cannot go that way (recovery off, not loggable,
    /// PostgreSQL out of reach): the caller sends it
    /// the usual way and delivers it here at once, without an offset.
    func publishLogged(_ packet: SocketIOPacket, options: SocketIOBroadcastOptions) -> Bool {
        guard let recovery, recovery.isReady, packet.isLoggable(options), notifier.link.openConnection != nil else {
            if let recovery, context.recovery != nil, packet.isLoggable(options) {
                logUnrecoverable(recovery.isReady ? "PostgreSQL out of reach" : "recovery tables not ready")
            }
            return false
        }
        let message = ClusterMessage(type: .broadcast, uid: uid, nsp: context.namespace,
                                     data: ["packet": packet.clusterJSON, "opts": options.clusterJSON])
        notifier.publishLogged(message, on: channel, LoggedBroadcast(nsp: context.namespace) { [weak self] in
            self?.deliverUnlogged(packet, options: options)
        })
        return true
    }

    private func logUnrecoverable(_ why: String) {
        let count = unloggedBroadcasts.wrappingAdd(1, ordering: .relaxed).newValue
        guard count == 1 || count % 1000 == 0 else { return }
        logger.warning("broadcasts delivered without an offset (not recoverable): \(why)", metadata: [
            "namespace": "\(context.namespace)", "soFar": "\(count)",
        ])
    }

    /// The link to PostgreSQL is (again) up: notifications sent while it was down never
    /// came, so the log has a hole; replaying across it would skip packets. Offsets from
    /// before are forgotten (their clients get a new socket here).
    func recoveryReconnected() {
        guard recovery != nil else { return }
        local.forgetLoggedPackets()
    }

    /// A logged broadcast (from any node, this one too), in offset order.
    func receiveLogged(_ data: JSONObject, offset: String) {
        guard let packet = SocketIOPacket(clusterJSON: data["packet"], namespace: context.namespace, ackID: nil),
              let number = UInt64(offset) else {
            // Not delivered (a row that could not be read): replaying across it would skip
            // it, so the offsets before are forgotten, as at a reconnection (restores then
            // read the table).
            local.forgetLoggedPackets()
            return
        }
        local.broadcast(packet, options: SocketIOBroadcastOptions(clusterJSON: data["opts"]), offset: number)
    }

    // MARK: - Sessions

    /// A recovering socket's rooms changed: its session is written shortly (the changes of
    /// the next 50 ms go in the same write).
    func sessionChanged(_ id: String) {
        guard recovery != nil, context.sockets.socket(id: id)?.pid != nil else { return }
        changedSessions.withLock { _ = $0.insert(id) }
        guard !sessionWriteScheduled.exchange(true, ordering: .relaxed) else { return }
        notifier.eventLoop.scheduleTask(in: .milliseconds(50)) { [weak self] in
            guard let self else { return }
            self.sessionWriteScheduled.store(false, ordering: .relaxed)
            self.writeChangedSessions()
        }
    }

    /// A socket left: unless its session was just kept, it goes from the table.
    func sessionEnded(_ id: String) {
        guard let recovery, context.sockets.socket(id: id)?.pid != nil else { return }
        changedSessions.withLock { _ = $0.remove(id) }
        guard keptSessions.withLock({ $0.remove(id) }) == nil else { return }
        recovery.enqueue(.delete(nsp: context.namespace, node: uid, sid: id))
    }

    private func writeChangedSessions() {
        guard let recovery else { return }
        let ids = changedSessions.withLock { changed in
            defer { changed = [] }
            return changed
        }
        let rows = ids.compactMap { id -> RecoveryDatabase.SessionRow? in
            guard let socket = context.sockets.socket(id: id), socket.isConnected, let pid = socket.pid,
                  let rooms = local.socketRooms(id) else { return nil }
            return RecoveryDatabase.SessionRow(pid: pid, sid: id, rooms: Array(rooms), data: socket.data, connected: true)
        }
        if !rows.isEmpty { recovery.enqueue(.upsert(nsp: context.namespace, node: uid, rows)) }
    }

    public func persistSession(_ session: SocketIOSession) {
        guard let recovery else { return }
        readFromTable.withLock { _ = $0.removeValue(forKey: session.sid) }
        keptSessions.withLock { _ = $0.insert(session.sid) }
        recovery.enqueue(.upsert(nsp: context.namespace, node: uid, [
            RecoveryDatabase.SessionRow(pid: session.pid, sid: session.sid, rooms: Array(session.rooms), data: session.data,
                                        connected: false),
        ]))
    }

    public func restoreSession(pid: String, offset: String) async -> SocketIOSession? {
        guard let recovery, let limits = context.recovery else { return nil }
        // The offset in this node's log: it has every logged packet since, in order.
        if local.hasLogged(offset: offset) {
            return await recovery.restore(nsp: context.namespace, pid: pid, maxAge: limits.maxDisconnectionDuration)
        }
        // Not here (this node started or reconnected since): the packets come from the table.
        guard let number = UInt64(offset),
              let restored = await recovery.restoreFromTable(nsp: context.namespace, pid: pid, offset: number,
                                                             maxAge: limits.maxDisconnectionDuration,
                                                             limit: limits.maxLoggedPackets)
        else { return nil }
        let session = restored.session
        let packets = restored.packets.compactMap { row -> SocketIOEncodedPacket? in
            guard let data = row.message.data, let packet = SocketIOPacket(clusterJSON: data["packet"], namespace: context.namespace, ackID: nil)
            else { return nil }
            let options = SocketIOBroadcastOptions(clusterJSON: data["opts"])
            guard session.wouldReceive(rooms: options.rooms, except: options.except) else { return nil }
            return packet.appending(offset: String(row.offset)).encode()
        }
        readFromTable.withLock { pending in
            // Entries go at the rejoin; one whose CONNECT was refused stays: keep them few.
            if pending.count >= 1_000 { pending.removeAll() }
            pending[session.sid] = (packets, restored.through)
        }
        return session
    }

    public func rejoin(_ session: SocketIOSession, after offset: String) -> [SocketIOEncodedPacket] {
        let missed: [SocketIOEncodedPacket]
        if let read = readFromTable.withLock({ $0.removeValue(forKey: session.sid) }) {
            missed = local.rejoin(session, after: offset, readElsewhere: read.packets, through: read.through)
        } else {
            missed = local.rejoin(session, after: offset)
        }
        sessionChanged(session.sid)
        return missed
    }
}
