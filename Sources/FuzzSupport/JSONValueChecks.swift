import SocketIO

extension JSONValue {
    /// Whether an infinite number is inside: JSON writes it as null, so it cannot round-trip.
    public var hasInfinity: Bool {
        switch self {
        case .number(let number): !number.isFinite
        case .array(let elements): elements.contains { $0.hasInfinity }
        case .object(let object): object.contains { $0.value.hasInfinity }
        case .null, .bool, .string, .binary: false
        }
    }
}
