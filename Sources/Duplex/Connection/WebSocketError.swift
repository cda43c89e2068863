/// Errors reported through a connection's error event.
public enum WebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The peer broke the protocol; the connection was failed with this close code.
    case protocolViolation(ProtocolViolation)
    /// The peer did not answer pings for a whole heartbeat interval.
    case heartbeatTimeout
    /// The peer did not answer our close frame in time.
    case closeTimeout
    /// The peer did not read and the outbound buffer passed its limit.
    case backpressureLimitExceeded(bufferedBytes: Int)
    /// A user handler threw; the connection was closed with 1011.
    case handlerFailed(String)
    /// The transport failed (reset, TLS error, ...).
    case transport(String)

    public var description: String {
        switch self {
        case .protocolViolation(let v): return v.description
        case .heartbeatTimeout: return "peer did not answer the heartbeat ping"
        case .closeTimeout: return "peer did not answer the close frame in time"
        case .backpressureLimitExceeded(let n): return "peer is not reading: \(n) bytes queued, over the limit"
        case .handlerFailed(let message): return "handler threw: \(message)"
        case .transport(let message): return "transport error: \(message)"
        }
    }
}
