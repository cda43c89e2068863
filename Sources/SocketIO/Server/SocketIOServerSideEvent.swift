import Synchronization

/// An event another node of the cluster sent with `serverSideEmit`.
public struct SocketIOServerSideEvent: Sendable {
    /// The event name the other node emitted, e.g. `"cache:invalidate"`.
    public let name: String
    /// The arguments after the name, as the other node sent them.
    public let arguments: [JSONValue]
    /// Present when the sender waits for an answer (`serverSideEmitWithAck`): call it once;
    /// the first argument is what the sender gets from this node.
    public let ack: (@Sendable ([JSONValue]) -> Void)?

    /// An event as a cluster adapter delivers it (``SocketIOServerSideListeners/dispatch(_:ack:)``
    /// builds it).
    public init(name: String, arguments: [JSONValue], ack: (@Sendable ([JSONValue]) -> Void)?) {
        self.name = name
        self.arguments = arguments
        self.ack = ack
    }
}

/// The listeners of one namespace for events from other nodes (`serverSideEmit`).
public final class SocketIOServerSideListeners: Sendable {
    private let handlers = Mutex<[String: [@Sendable (SocketIOServerSideEvent) -> Void]]>([:])

    /// No listeners yet; the namespace adds them (`onServerSideEmit`).
    public init() {}

    func add(_ name: String, _ handler: @escaping @Sendable (SocketIOServerSideEvent) -> Void) {
        handlers.withLock { $0[name, default: []].append(handler) }
    }

    /// Delivers `[event, arguments...]` from another node to the listeners of `event`; with
    /// `ack`, only the first answer goes back. Returns whether any listener was there.
    @discardableResult
    public func dispatch(_ packet: [JSONValue], ack: (@Sendable ([JSONValue]) -> Void)? = nil) -> Bool {
        guard let name = packet.first?.stringValue else { return false }
        let listeners = handlers.withLock { $0[name] ?? [] }
        guard !listeners.isEmpty else { return false }
        let once: (@Sendable ([JSONValue]) -> Void)? = ack.map { ack in
            let answered = Atomic<Bool>(false)
            return { arguments in
                guard !answered.exchange(true, ordering: .relaxed) else { return }
                ack(arguments)
            }
        }
        let event = SocketIOServerSideEvent(name: name, arguments: Array(packet.dropFirst()), ack: once)
        for listener in listeners { listener(event) }
        return true
    }
}
