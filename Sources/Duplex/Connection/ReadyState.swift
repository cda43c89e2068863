/// The connection states of the browser's `WebSocket.readyState`.
public enum ReadyState: Int, Sendable, CustomStringConvertible {
    /// The opening handshake is under way (client only).
    case connecting = 0
    /// Messages can be sent and received.
    case open = 1
    /// A close frame was sent or received; the closing handshake is under way. Sends are ignored.
    case closing = 2
    /// The connection is gone; the close event has been delivered.
    case closed = 3

    public var description: String {
        switch self {
        case .connecting: "CONNECTING"
        case .open: "OPEN"
        case .closing: "CLOSING"
        case .closed: "CLOSED"
        }
    }
}
