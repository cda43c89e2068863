extension SocketIOPacket {
    /// Whether recovery logs this packet (and gives it an offset): an event without an ack
    /// id, not volatile (the reference's rule: an ack callback cannot be restored, and a
    /// volatile packet may be dropped anyway).
    public func isLoggable(_ options: SocketIOBroadcastOptions) -> Bool {
        isEvent && ackID == nil && !options.flags.volatile
    }

    /// The packet with the recovery offset as its last argument (where the reference client
    /// reads it).
    public func appending(offset: String) -> SocketIOPacket {
        guard case .array(var elements)? = payload else { return self }
        elements.append(.string(offset))
        var copy = self
        copy.payload = .array(elements)
        return copy
    }
}
