/// The connection states of the browser's `WebSocket.readyState`.
public enum ReadyState: Int, Sendable, CustomStringConvertible {
    case connecting = 0
    case open = 1
    case closing = 2
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
