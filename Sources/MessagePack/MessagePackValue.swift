import NIOCore

/// A MessagePack value (https://github.com/msgpack/msgpack/blob/master/spec.md).
///
/// Integers keep their sign class: a decoder gives `.int` for the negative encodings and
/// for `int 8`–`int 64`, `.uint` for positive fixint and `uint 8`–`uint 64`; equality
/// compares the numeric value, so `.int(1) == .uint(1)`. Maps keep their order and may
/// repeat keys (the format allows it; what to do with repeats is the reader's business).
public enum MessagePackValue: Sendable {
    case `nil`
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    /// `float 32` widens to a Double on decoding; the encoder writes `float 64`.
    case float(Double)
    case string(String)
    case binary(ByteBuffer)
    case array([MessagePackValue])
    case map([(key: MessagePackValue, value: MessagePackValue)])
    /// An extension type: application types 0...127, predefined −1...−128 (−1: timestamp).
    case ext(type: Int8, data: ByteBuffer)
}

extension MessagePackValue: Equatable {
    public static func == (lhs: MessagePackValue, rhs: MessagePackValue) -> Bool {
        switch (lhs, rhs) {
        case (.nil, .nil): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.uint(let a), .uint(let b)): return a == b
        case (.int(let a), .uint(let b)), (.uint(let b), .int(let a)): return a >= 0 && UInt64(a) == b
        case (.float(let a), .float(let b)): return a == b || (a.isNaN && b.isNaN)
        case (.string(let a), .string(let b)): return a == b
        case (.binary(let a), .binary(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.map(let a), .map(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.ext(let t1, let d1), .ext(let t2, let d2)): return t1 == t2 && d1 == d2
        default: return false
        }
    }
}

extension MessagePackValue {
    /// The member `key` of a map with string keys (the first one, when repeated).
    public subscript(key: String) -> MessagePackValue? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.key == .string(key) }?.value
    }
}
