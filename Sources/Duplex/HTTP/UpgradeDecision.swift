import NIOHTTP1

/// What the server's upgrade hook decides about a valid WebSocket handshake.
public enum UpgradeDecision: Sendable {
    /// Open the WebSocket; the headers are added to the 101 response. A `route` gives the
    /// connection its own limits, heartbeat and compression instead of the server's.
    case accept(headers: HTTPHeaders = [:], route: WebSocketRoute? = nil)
    /// Refuse with this status and reason (authentication, origin, capacity...).
    case reject(HandshakeError)
}
