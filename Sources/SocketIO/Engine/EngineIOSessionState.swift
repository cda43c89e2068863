import NIOCore
/// The transport side of one Engine.IO session as an explicit state machine: which
/// transport carries it, the packets waiting for a poll, whether a poll is pending, and the
/// upgrade steps (probe, then `5`). Pure: the session class owns the sockets, promises and
/// timers, and does what these methods return.
struct EngineIOSessionState {
    enum Phase: Equatable {
        /// HTTP long-polling.
        case polling
        /// Polling, with a WebSocket attached for an upgrade; `probed` once `2probe` came.
        case upgrading(probed: Bool)
        /// A WebSocket (from the start, or upgraded).
        case websocket
        case closed
    }

    /// What to do with a GET poll.
    enum PollAction: Equatable {
        /// Answer it now with these packets.
        case respond([EngineIOPacket])
        /// Keep it pending until packets are queued.
        case hold
        /// Not a polling session (any more): 400 Bad request.
        case reject
        /// A second GET while one is pending: the session closes (the pending one gets
        /// CLOSE, this one 400).
        case overlap
    }

    /// What to do after packets were queued.
    enum SendAction: Equatable {
        /// Nothing now (no poll pending, or the session is closed).
        case none
        /// A poll is pending: answer it (at the end of this event-loop tick, to batch).
        case flushPoll
        /// Write these to the WebSocket.
        case writeWebSocket([EngineIOPacket])
        /// The outbox went over its byte budget: the session must close.
        case overBudget
    }

    private(set) var phase: Phase
    /// What waits for a poll, in order; batches may be shared with other sessions.
    /// A ring: a poll takes from the front (at most `maxPacketsPerPoll` packets), so a long
    /// outbox drained a few packets at a time costs no shifting.
    private(set) var outbox = CircularBuffer<EngineIOPacketBatch>()
    private(set) var pollPending = false
    /// The outbox's size as ``EngineIOPacketBatch/cost`` counts it.
    private(set) var outboxBytes = 0
    /// The most `outboxBytes` allowed.
    let maxOutboxBytes: Int
    /// The most packets in one polling response (whole batches; at least one batch).
    let maxPacketsPerPoll: Int

    init(transport: EngineIOTransport, maxOutboxBytes: Int = .max, maxPacketsPerPoll: Int = .max) {
        phase = transport == .polling ? .polling : .websocket
        self.maxOutboxBytes = maxOutboxBytes
        self.maxPacketsPerPoll = max(1, maxPacketsPerPoll)
    }

    var isOpen: Bool { phase != .closed }

    var isPolling: Bool {
        switch phase {
        case .polling, .upgrading: true
        case .websocket, .closed: false
        }
    }

    /// The transport packets go out on now.
    var transport: EngineIOTransport { phase == .websocket ? .websocket : .polling }

    /// Whether a packet sent now would go out at once (the `volatile` test).
    var isWritable: Bool {
        switch phase {
        case .websocket: true
        case .polling, .upgrading: pollPending
        case .closed: false
        }
    }

    mutating func poll() -> PollAction {
        switch phase {
        case .closed, .websocket:
            return .reject
        case .polling, .upgrading:
            if pollPending { return .overlap }
            if !outbox.isEmpty { return .respond(takeOutbox(limit: maxPacketsPerPoll)) }
            if case .upgrading(probed: true) = phase {
                // The client is moving to the WebSocket: release it at once.
                return .respond([.noop])
            }
            pollPending = true
            return .hold
        }
    }

    mutating func send(_ packets: [EngineIOPacket]) -> SendAction {
        send(EngineIOPacketBatch(packets))
    }

    mutating func send(_ batch: EngineIOPacketBatch) -> SendAction {
        switch phase {
        case .closed:
            return .none
        case .websocket:
            return .writeWebSocket(batch.packets)
        case .polling, .upgrading:
            outbox.append(batch)
            outboxBytes += batch.cost
            if outboxBytes > maxOutboxBytes { return .overBudget }
            return pollPending ? .flushPoll : .none
        }
    }

    /// The packets for the pending poll, which is no longer pending; nil when there is no
    /// pending poll or nothing to send.
    mutating func flushPoll() -> [EngineIOPacket]? {
        guard pollPending, !outbox.isEmpty, isPolling else { return nil }
        pollPending = false
        return takeOutbox(limit: maxPacketsPerPoll)
    }

    /// The pending poll ended without an answer (its TCP connection closed).
    mutating func pollAbandoned() {
        pollPending = false
    }

    /// A WebSocket with this session's sid arrived. False: it must be closed (already
    /// upgrading, upgraded or closed).
    mutating func beginUpgrade() -> Bool {
        guard phase == .polling else { return false }
        phase = .upgrading(probed: false)
        return true
    }

    /// `2probe` on the upgrading WebSocket: answer `3probe`. Returns the packets for a
    /// pending poll, which must be released now (`6`), or nil when none is pending.
    /// Throws nothing: a probe in any other phase returns `.invalid`.
    enum ProbeResult: Equatable {
        case answer(releasePoll: [EngineIOPacket]?)
        case invalid
    }

    mutating func probe() -> ProbeResult {
        guard case .upgrading = phase else { return .invalid }
        phase = .upgrading(probed: true)
        if pollPending {
            pollPending = false
            return .answer(releasePoll: outbox.isEmpty ? [.noop] : takeOutbox(limit: maxPacketsPerPoll))
        }
        return .answer(releasePoll: nil)
    }

    /// `5` on the upgrading WebSocket. Returns the queued packets to write to the WebSocket
    /// and whether a pending poll must be released with `6`; nil when not probed (the
    /// WebSocket must be dropped).
    mutating func completeUpgrade() -> (flush: [EngineIOPacket], releasePoll: Bool)? {
        guard phase == .upgrading(probed: true) else { return nil }
        phase = .websocket
        let release = pollPending
        pollPending = false
        return (takeOutbox(), release)
    }

    /// The upgrade failed (timeout, WebSocket closed, wrong packet): back to polling.
    mutating func abortUpgrade() {
        if case .upgrading = phase { phase = .polling }
    }

    /// Closes the session. Returns whether a poll was pending (it must be answered).
    mutating func close() -> Bool {
        guard phase != .closed else { return false }
        phase = .closed
        outbox = CircularBuffer()
        outboxBytes = 0
        let hadPoll = pollPending
        pollPending = false
        return hadPoll
    }

    /// The queued packets, whole batches in order, at most `limit` of them (but at least the
    /// first batch); what is left waits for the next poll.
    private mutating func takeOutbox(limit: Int = .max) -> [EngineIOPacket] {
        var packets: [EngineIOPacket] = []
        while let batch = outbox.first, packets.isEmpty || packets.count + batch.packets.count <= limit {
            packets.append(contentsOf: batch.packets)
            outboxBytes -= batch.cost
            outbox.removeFirst()
        }
        if outbox.isEmpty {
            // Not keeping the capacity: a burst must not pin its memory for the session's life.
            outbox = CircularBuffer()
            outboxBytes = 0
        }
        return packets
    }
}
