/// A WebSocket close status code (RFC 6455 §7.4), with the registered names.
public struct CloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let normalClosure = CloseCode(1000)
    public static let goingAway = CloseCode(1001)
    public static let protocolError = CloseCode(1002)
    public static let unsupportedData = CloseCode(1003)
    /// Never on the wire: reported when a close frame carried no code.
    public static let noStatusReceived = CloseCode(1005)
    /// Never on the wire: reported when the TCP connection ended without a close frame.
    public static let abnormalClosure = CloseCode(1006)
    public static let invalidFramePayloadData = CloseCode(1007)
    public static let policyViolation = CloseCode(1008)
    public static let messageTooBig = CloseCode(1009)
    public static let mandatoryExtension = CloseCode(1010)
    public static let internalServerError = CloseCode(1011)
    public static let serviceRestart = CloseCode(1012)
    public static let tryAgainLater = CloseCode(1013)
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
