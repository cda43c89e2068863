/// The WebSocket settings of one route (a path, a mounted service): limits, heartbeat and
/// compression, as uWebSockets keeps its behaviour per route. Make it once and return it
/// from `shouldUpgrade` for every handshake of the route; connections of the route then use
/// it instead of the server's `webSocket` configuration, while the server's global bounds
/// (connection count, memory budget, origins) still apply.
///
/// ```swift
/// let chat = WebSocketRoute(configuration: { var c = WebSocketConfiguration(); c.maxMessageSize = 16 * 1024; return c }())
/// configuration.shouldUpgrade = { head, _ in head.uri.hasPrefix("/chat") ? .accept(route: chat) : .accept() }
/// ```
public final class WebSocketRoute: Sendable {
    /// The limits, heartbeat and compression of the route's connections.
    public let configuration: WebSocketConfiguration

    /// A route with these settings; make it once and reuse it for every handshake of the route.
    public init(configuration: WebSocketConfiguration) {
        self.configuration = configuration
    }
}
