/// Why a Socket.IO socket or an Engine.IO session ended. The raw values are the reference
/// server's strings, so logs and clients read the same words.
public enum DisconnectReason: String, Sendable, Hashable, CustomStringConvertible {
    /// The client closed the connection (or its transport ended).
    case transportClose = "transport close"
    /// The transport failed (a reset, an oversized message, an outbound budget passed).
    case transportError = "transport error"
    /// The client stopped answering the heartbeat.
    case pingTimeout = "ping timeout"
    /// The client sent something that does not decode.
    case parseError = "parse error"
    /// The server closed the session (`close()`, a missing CONNECT).
    case forcedClose = "forced close"
    /// The server closed the whole connection from one of its sockets (`disconnect(close: true)`).
    case forcedServerClose = "forced server close"
    /// The server is closing (``SocketIOServer/close()``, or graceful shutdown of its
    /// `ServiceGroup`); clients reconnect once a server answers again.
    case serverShuttingDown = "server shutting down"
    /// The client left the namespace (`socket.disconnect()` on the client); it does not
    /// reconnect by itself.
    case clientNamespaceDisconnect = "client namespace disconnect"
    /// The server disconnected the socket from the namespace.
    case serverNamespaceDisconnect = "server namespace disconnect"

    public var description: String { rawValue }
}
