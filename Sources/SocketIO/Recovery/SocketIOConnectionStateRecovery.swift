import NIOCore

/// Connection state recovery (the reference server's `connectionStateRecovery`, Socket.IO
/// 4.6): a client whose connection broke gets its socket back (same id, rooms and data)
/// and the events it missed, when it reconnects within ``maxDisconnectionDuration``.
///
/// Every event the server sends without an acknowledgement and not volatile carries an
/// offset as its last argument and is kept in a bounded log; a socket that disconnects for
/// a reason the client recovers from is kept as a session. The log and the sessions are
/// bounded by count and by bytes; when a bound is reached the oldest entries go, and a
/// client whose offset or session went simply connects anew (`recovered` false).
public struct SocketIOConnectionStateRecovery: Sendable, Hashable {
    /// How long a session and the logged packets are kept (2 minutes, as the reference).
    public var maxDisconnectionDuration: TimeAmount = .minutes(2)
    /// Whether a recovered socket skips the namespace's middlewares (true, as the reference).
    public var skipMiddlewares = true
    /// The most packets the log keeps (oldest dropped first). Not in the reference.
    public var maxLoggedPackets = 10_000
    /// The most bytes of encoded packets the log keeps. Not in the reference.
    public var maxLoggedBytes = 32 << 20
    /// The most disconnected sessions kept (oldest dropped first). Not in the reference.
    public var maxSessions = 10_000
    /// The most bytes of sessions kept (room names and data as JSON). Not in the reference.
    public var maxSessionBytes = 16 << 20

    /// The defaults: 2 minutes, middlewares skipped, 10,000 packets / 32 MiB of log and
    /// 10,000 sessions / 16 MiB.
    public init(maxDisconnectionDuration: TimeAmount = .minutes(2), skipMiddlewares: Bool = true) {
        self.maxDisconnectionDuration = maxDisconnectionDuration
        self.skipMiddlewares = skipMiddlewares
    }

    /// The disconnect reasons after which a client reconnects by itself and may recover
    /// (the reference's list); a client that left on purpose does not.
    public static let recoverableReasons: Set<DisconnectReason> = [
        .transportError, .transportClose, .forcedClose, .pingTimeout, .serverShuttingDown, .forcedServerClose,
    ]
}
