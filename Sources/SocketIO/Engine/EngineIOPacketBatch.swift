/// Packets queued together for a polling client, shared: a broadcast makes one batch and
/// every recipient's outbox holds a reference to it (8 bytes each), not a copy. A room of
/// N clients that do not poll then costs N references per event, not N copies of it.
///
/// It also carries what the batch counts against `EngineIOOptions.maxBufferedBytes`,
/// computed once: conservatively, the bytes the packets take in a polling response plus a
/// fixed cost per packet for its bookkeeping, so that many tiny packets cannot hide under
/// the budget.
final class EngineIOPacketBatch: Sendable {
    /// Bytes counted per queued packet on top of its encoding (its slot in the queue and
    /// the record separator).
    static let perPacketOverhead = 32

    let packets: [EngineIOPacket]
    /// The bytes counted against the session's budget.
    let cost: Int
    /// False: sent uncompressed on a WebSocket with permessage-deflate (`compress(false)`).
    let compress: Bool

    init(_ packets: [EngineIOPacket], compress: Bool = true) {
        self.packets = packets
        self.compress = compress
        var cost = 0
        for packet in packets { cost += packet.encodedByteCount + Self.perPacketOverhead }
        self.cost = cost
    }
}
