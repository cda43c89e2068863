import NIOCore

/// Messages nobody consumes yet. A client connection opens before its user can attach a
/// handler or ask for `messages`, so it keeps what arrives meanwhile (reading pauses after
/// ``unconsumedLimit`` of them) and hands it to the first consumer. Server connections get
/// their handlers before the first read and do not keep anything.
extension WebSocketConnection {
    static let unconsumedLimit = 64

    /// A message handler is set or the `messages` stream was asked for.
    var hasMessageConsumer: Bool {
        handlers.text != nil || handlers.binary != nil || handlers.message != nil
            || streamRequested.load(ordering: .acquiring)
    }

    /// Keeps `message` when nobody consumes it yet (or older ones still wait); false when
    /// it should be delivered now.
    func keepIfUnconsumed(_ message: WebSocketMessage) -> Bool {
        guard unconsumed != nil, !(unconsumed!.isEmpty && hasMessageConsumer) else { return false }
        unconsumed!.append(message)
        if unconsumed!.count >= Self.unconsumedLimit && !pausedForUnconsumed {
            pausedForUnconsumed = true
            pauseReading()
        }
        return true
    }

    /// Gives the kept messages to a consumer that just appeared (on the event loop).
    func deliverUnconsumed() {
        guard unconsumed != nil, hasMessageConsumer else { return }
        while let message = unconsumed!.popFirst() {
            dispatch(message)
        }
        if pausedForUnconsumed {
            pausedForUnconsumed = false
            resumeReading()
        }
    }
}
