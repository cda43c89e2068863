import SocketIO

/// The kinds of messages between the nodes of a cluster (`MessageType` of Node's
/// socket.io-adapter; the numbers are on the wire).
enum ClusterMessageType: Int, Sendable {
    case initialHeartbeat = 1
    case heartbeat = 2
    case broadcast = 3
    case socketsJoin = 4
    case socketsLeave = 5
    case disconnectSockets = 6
    case fetchSockets = 7
    case fetchSocketsResponse = 8
    case serverSideEmit = 9
    case serverSideEmitResponse = 10
    case broadcastClientCount = 11
    case broadcastAck = 12
    case adapterClose = 13

    /// The kinds that go through the attachments table when they hold binary (the others
    /// only when too large for a NOTIFY).
    var sendsBinaryAsAttachment: Bool {
        switch self {
        case .broadcast, .broadcastAck, .serverSideEmit, .serverSideEmitResponse: true
        default: false
        }
    }
}

/// One message of the cluster protocol: `{"type", "data"?, "uid", "nsp"}`.
struct ClusterMessage: Sendable, Equatable {
    var type: ClusterMessageType
    /// The sending node's id for this namespace; `"emitter"` for the emitter.
    var uid: String
    /// The namespace; absent in what the emitter sends.
    var nsp: String?
    /// Absent for the heartbeats and ADAPTER_CLOSE.
    var data: JSONObject?
    /// A Duplex extension: the connection state recovery offset PostgreSQL gave a logged
    /// BROADCAST (Node peers ignore the key).
    var offset: String?

    /// The uid the emitter package uses: never a member of the cluster.
    static let emitterUID = "emitter"
}
