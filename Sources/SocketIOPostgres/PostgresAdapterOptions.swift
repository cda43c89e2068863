import NIOCore

/// The settings of a node of a Socket.IO cluster on PostgreSQL. The defaults are the
/// reference adapter's (`@socket.io/postgres-adapter` 0.5) where it has them.
public struct PostgresAdapterOptions: Sendable {
    /// Channels are `<prefix>#<namespace>`.
    public var channelPrefix = "socket.io"
    /// The table of messages too large for a NOTIFY or holding binary.
    public var tableName = "socket_io_attachments"
    /// Creates the table when it is missing (the reference leaves that to the user).
    public var createTable = true
    /// A message whose JSON has this many bytes or more goes through the table (NOTIFY
    /// refuses payloads of 8000 bytes and more).
    public var payloadThreshold = 8_000
    /// How often old attachments are deleted, and how old they must be.
    public var cleanupInterval: TimeAmount = .seconds(30)
    /// A node says it is alive this often (when it has sent nothing else that counts).
    public var heartbeatInterval: TimeAmount = .seconds(5)
    /// A node silent this long is dropped.
    public var heartbeatTimeout: TimeAmount = .seconds(10)
    /// How long `fetchSockets` waits for the other nodes when the operator sets no timeout.
    public var requestTimeout: TimeAmount = .seconds(5)
    /// Messages waiting to be sent (PostgreSQL slow or down): past this, the oldest are
    /// dropped, with a log line.
    public var maxPendingNotifications = 10_000
    /// Notifications received that wait for an attachment read ahead of them: past this,
    /// new ones are dropped, with a log line.
    public var maxPendingInbound = 10_000
    /// Requests to the other nodes (fetchSockets, serverSideEmit with acks) and broadcasts
    /// with acks waiting for answers, per namespace: past this, new ones fail at once.
    public var maxPendingRequests = 1_000
    /// Reconnection delays: from `reconnectDelay`, doubling up to `maxReconnectDelay`,
    /// each ×(0.5…1.5) at random.
    public var reconnectDelay: TimeAmount = .milliseconds(500)
    public var maxReconnectDelay: TimeAmount = .seconds(2)

    public init() {}
}
