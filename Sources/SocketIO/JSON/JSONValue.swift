import NIOCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A JSON value as carried by Socket.IO packets.
///
/// Besides the six JSON types it has a `binary` case: Socket.IO lets event
/// arguments contain raw bytes, which travel as separate attachments and are
/// referenced from the JSON text by `{"_placeholder":true,"num":N}`.
///
/// Numbers are `Double`, like JavaScript's; integral values serialize without a
/// fraction (`1`, not `1.0`). Objects keep their key order (see ``JSONObject``).
public enum JSONValue: Sendable, Hashable {
    /// JSON `null`; also what a missing optional encodes to.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// Any JSON number, as a `Double` (as in JavaScript: integers are exact up to 2^53).
    case number(Double)
    /// A string.
    case string(String)
    /// An array; event arguments and ack answers travel as one.
    case array([JSONValue])
    /// An object, with its key order kept.
    case object(JSONObject)
    /// Raw bytes; a Socket.IO attachment. Serialized on its own (outside the
    /// Socket.IO encoder) as a base64 string, the way `JSONEncoder` writes `Data`.
    case binary(ByteBuffer)
}

// MARK: - Accessors

extension JSONValue {
    /// Whether this is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The boolean, or nil for any other kind of value.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The number, or nil for any other kind of value.
    public var doubleValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The number as an `Int`, only when it is integral and fits.
    public var intValue: Int? {
        guard case .number(let value) = self else { return nil }
        return Int(exactly: value)
    }

    /// The string, or nil for any other kind of value (numbers are not converted).
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The elements of an array, or nil for any other kind of value.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The members of an object, or nil for any other kind of value.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The bytes of a binary attachment, or nil for any other kind of value.
    public var binaryValue: ByteBuffer? {
        if case .binary(let value) = self { return value }
        return nil
    }

    /// The member `key` of an object; `nil` for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let object) = self else { return nil }
        return object[key]
    }

    /// The element at `index` of an array; `nil` when out of range or not an array.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let array) = self, array.indices.contains(index) else { return nil }
        return array[index]
    }

    /// Whether a `binary` value occurs anywhere inside this value.
    public var containsBinary: Bool {
        switch self {
        case .binary:
            return true
        case .array(let array):
            return array.contains { $0.containsBinary }
        case .object(let object):
            return object.contains { $0.value.containsBinary }
        case .null, .bool, .number, .string:
            return false
        }
    }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
}

extension JSONValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .number(value) }
}

extension JSONValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension JSONValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements))
    }
}

extension JSONValue: CustomStringConvertible {
    /// The serialized JSON text.
    public var description: String { serialized() }
}

// MARK: - Codable

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            // Bool first: some decoders would happily turn `true` into 1.
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            // Key order is lost here: Decodable dictionaries are unordered.
            self = .object(JSONObject(value))
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "Not a JSON value")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .number(let value):
            var container = encoder.singleValueContainer()
            // Integral values go out as integers so encoders don't print `1.0`.
            if let integer = Int64(exactly: value) {
                try container.encode(integer)
            } else {
                try container.encode(value)
            }
        case .string(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .binary(let value):
            var container = encoder.singleValueContainer()
            try container.encode(Base64.encode(value))
        case .array(let values):
            var container = encoder.unkeyedContainer()
            for value in values {
                try container.encode(value)
            }
        case .object(let object):
            var container = encoder.container(keyedBy: JSONObject.MemberKey.self)
            for (key, value) in object {
                try container.encode(value, forKey: JSONObject.MemberKey(key))
            }
        }
    }
}

extension JSONValue {
    /// Converts any `Encodable` into a `JSONValue` (through `JSONEncoder`).
    ///
    /// `Data` properties become base64 strings, as `JSONEncoder` writes them;
    /// use `.binary` explicitly to send a Socket.IO attachment.
    public init(encoding value: some Encodable) throws {
        if let value = value as? JSONValue {
            self = value
            return
        }
        let data = try JSONEncoder().encode(value)
        self = try JSONValue(parsing: Array(data))
    }

    /// Decodes this value into a `Decodable` type (through `JSONDecoder`).
    ///
    /// `binary` values reach the decoder as base64 strings, so they decode into
    /// `Data` properties.
    public func decode<T: Decodable>(as type: T.Type = T.self) throws -> T {
        if let value = self as? T {
            return value
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        JSONSerializer.write(self, to: &bytes)
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }
}

// MARK: - JSONObject

/// A JSON object that remembers the order in which its keys were inserted.
///
/// Iteration follows insertion order, so serialization reproduces the order
/// a peer sent or a literal was written in. Equality ignores order, as JSON
/// object equality does.
///
/// Members live in one array. Small objects (the usual Socket.IO payload) are
/// searched linearly, which avoids allocating a hash table per object; a
/// key index is built only once an object grows past a few members, so
/// hostile objects with many keys still parse in linear time.
public struct JSONObject: Sendable {
    internal struct Entry: Sendable {
        var key: String
        var value: JSONValue
    }

    /// Objects up to this size are searched without an index.
    private static let linearSearchLimit = 8

    private var entries: [Entry]
    /// Key → position in `entries`; `nil` while the object is small.
    private var index: [String: Int]?

    /// An empty object.
    public init() {
        entries = []
        index = nil
    }

    /// Builds an object from key-value pairs; a repeated key keeps its first
    /// position and its last value (as `JSON.parse` does).
    public init(_ pairs: some Sequence<(String, JSONValue)>) {
        self.init()
        for (key, value) in pairs {
            self[key] = value
        }
    }

    /// Builds an object from a dictionary, with the keys sorted (a dictionary
    /// has no order of its own, and sorting keeps the output deterministic).
    public init(_ dictionary: [String: JSONValue]) {
        self.init(dictionary.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    internal init(reservingCapacity capacity: Int) {
        self.init()
        entries.reserveCapacity(capacity)
    }

    /// The keys in insertion order.
    public var keys: [String] { entries.map(\.key) }

    /// The values in insertion order.
    public var values: [JSONValue] { entries.map(\.value) }

    /// The number of members.
    public var count: Int { entries.count }

    /// Whether the object has no member.
    public var isEmpty: Bool { entries.isEmpty }

    private func position(of key: String) -> Int? {
        if let index {
            return index[key]
        }
        return entries.firstIndex { $0.key == key }
    }

    /// Gets a member, or sets one (appending a new key at the end); assigning
    /// `nil` removes the key.
    public subscript(key: String) -> JSONValue? {
        get {
            guard let position = position(of: key) else { return nil }
            return entries[position].value
        }
        set {
            let position = position(of: key)
            switch (position, newValue) {
            case (let position?, let newValue?):
                entries[position].value = newValue
            case (nil, let newValue?):
                entries.append(Entry(key: key, value: newValue))
                if index != nil {
                    index?[key] = entries.count - 1
                } else if entries.count > Self.linearSearchLimit {
                    buildIndex()
                }
            case (let position?, nil):
                entries.remove(at: position)
                if index != nil {
                    buildIndex()
                }
            case (nil, nil):
                break
            }
        }
    }

    private mutating func buildIndex() {
        var index: [String: Int] = [:]
        index.reserveCapacity(entries.count)
        for (position, entry) in entries.enumerated() {
            index[entry.key] = position
        }
        self.index = index
    }

    /// A plain, unordered dictionary of the members.
    public var dictionary: [String: JSONValue] {
        Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    internal struct MemberKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

extension JSONObject: Hashable {
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for entry in lhs.entries {
            guard rhs[entry.key] == entry.value else { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent, like Dictionary's: combine per-member hashes
        // with a commutative operation.
        var combined = 0
        for entry in entries {
            var memberHasher = Hasher()
            memberHasher.combine(entry.key)
            memberHasher.combine(entry.value)
            combined ^= memberHasher.finalize()
        }
        hasher.combine(count)
        hasher.combine(combined)
    }
}

extension JSONObject: Sequence {
    /// Iterates over the members in insertion order.
    public struct Iterator: IteratorProtocol {
        private var base: IndexingIterator<[Entry]>

        fileprivate init(_ entries: [Entry]) {
            base = entries.makeIterator()
        }

        public mutating func next() -> (key: String, value: JSONValue)? {
            guard let entry = base.next() else { return nil }
            return (entry.key, entry.value)
        }
    }

    /// The members in insertion order, as `(key, value)` pairs.
    public func makeIterator() -> Iterator {
        Iterator(entries)
    }

    /// The number of members (exact).
    public var underestimatedCount: Int { entries.count }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}

extension JSONObject: CustomStringConvertible {
    public var description: String { JSONValue.object(self).serialized() }
}
