import MessagePack
import NIOCore
import SocketIO

extension JSONValue {
    /// As the reference's msgpack encoder writes JavaScript values: integral numbers as the
    /// shortest integer, other numbers as float 64, binary as `bin`, objects as maps with
    /// string keys.
    var messagePackValue: MessagePackValue {
        switch self {
        case .null: return .nil
        case .bool(let value): return .bool(value)
        case .number(let value):
            if let integer = Int64(exactly: value) { return .int(integer) }
            return .float(value)
        case .string(let value): return .string(value)
        case .binary(let value): return .binary(value)
        case .array(let values): return .array(values.map(\.messagePackValue))
        case .object(let object): return .map(object.map { (.string($0.key), $0.value.messagePackValue) })
        }
    }

    /// A MessagePack value as JavaScript would see it: integers and floats as numbers, `bin`
    /// as binary, map keys as strings, extension values (a JS `Date` is the timestamp type)
    /// as null.
    init(messagePack value: MessagePackValue) {
        switch value {
        case .nil, .ext: self = .null
        case .bool(let value): self = .bool(value)
        case .int(let value): self = .number(Double(value))
        case .uint(let value): self = .number(Double(value))
        case .float(let value): self = .number(value)
        case .string(let value): self = .string(value)
        case .binary(let value): self = .binary(value)
        case .array(let values): self = .array(values.map(JSONValue.init(messagePack:)))
        case .map(let pairs):
            var object = JSONObject()
            for pair in pairs {
                object[Self.keyText(pair.key)] = JSONValue(messagePack: pair.value)
            }
            self = .object(object)
        }
    }

    private static func keyText(_ key: MessagePackValue) -> String {
        switch key {
        case .string(let text): text
        case .int(let value): String(value)
        case .uint(let value): String(value)
        default: JSONValue(messagePack: key).serialized()
        }
    }
}
