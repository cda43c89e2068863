/// A WebSocket close status code (RFC 6455 §7.4), with the registered names.
public struct CloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The number sent in the close frame.
    public var rawValue: UInt16
    /// Any code, registered or not; ``isValidOnWire`` says whether it may be sent.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Any code, e.g. `CloseCode(4000)` for an application-defined one (4000–4999).
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// 1000: the purpose of the connection is fulfilled.
    public static let normalClosure = CloseCode(1000)
    /// 1001: the endpoint goes away (server shutdown, page navigated away).
    public static let goingAway = CloseCode(1001)
    /// 1002: the peer broke the protocol (reserved bits, unmasked client frames...).
    public static let protocolError = CloseCode(1002)
    /// 1003: a kind of data the endpoint cannot accept (text when it only takes binary, say).
    public static let unsupportedData = CloseCode(1003)
    /// Never on the wire: reported when a close frame carried no code.
    public static let noStatusReceived = CloseCode(1005)
    /// Never on the wire: reported when the TCP connection ended without a close frame.
    public static let abnormalClosure = CloseCode(1006)
    /// 1007: data inconsistent with the message type, such as invalid UTF-8 in text.
    public static let invalidFramePayloadData = CloseCode(1007)
    /// 1008: a policy was violated; Duplex uses it for readers too slow for the backpressure bound.
    public static let policyViolation = CloseCode(1008)
    /// 1009: a message or frame over `maxMessageSize` (or a fragment count over `maxFragments`).
    public static let messageTooBig = CloseCode(1009)
    /// 1010: the client needed an extension the server did not negotiate.
    public static let mandatoryExtension = CloseCode(1010)
    /// 1011: an unexpected condition, such as a handler that threw.
    public static let internalServerError = CloseCode(1011)
    /// 1012: the server is restarting; clients may reconnect.
    public static let serviceRestart = CloseCode(1012)
    /// 1013: temporary overload; Duplex sends it when the memory budget is exhausted.
    public static let tryAgainLater = CloseCode(1013)
    /// 1014: a gateway or proxy got an invalid response upstream.
    public static let badGateway = CloseCode(1014)
    /// Never on the wire: reported when the TLS handshake failed.
    public static let tlsHandshake = CloseCode(1015)

    /// Whether this code may appear in a close frame (RFC 6455 §7.4.1 and the IANA registry):
    /// 1000–1003 and 1007–1014 are defined, 3000–4999 belong to libraries and applications.
    public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    public var description: String {
        let name: String
        switch self {
        case .normalClosure: name = "normal closure"
        case .goingAway: name = "going away"
        case .protocolError: name = "protocol error"
        case .unsupportedData: name = "unsupported data"
        case .noStatusReceived: name = "no status received"
        case .abnormalClosure: name = "abnormal closure"
        case .invalidFramePayloadData: name = "invalid frame payload data"
        case .policyViolation: name = "policy violation"
        case .messageTooBig: name = "message too big"
        case .mandatoryExtension: name = "mandatory extension"
        case .internalServerError: name = "internal error"
        case .serviceRestart: name = "service restart"
        case .tryAgainLater: name = "try again later"
        case .badGateway: name = "bad gateway"
        case .tlsHandshake: name = "TLS handshake failure"
        default: name = "application code"
        }
        return "\(rawValue) (\(name))"
    }
}
