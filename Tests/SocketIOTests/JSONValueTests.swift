import NIOCore
import XCTest

@testable import SocketIO

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

final class JSONValueTests: XCTestCase {
    // MARK: Serialization

    func testSerializesScalars() {
        XCTAssertEqual(JSONValue.null.serialized(), "null")
        XCTAssertEqual(JSONValue.bool(true).serialized(), "true")
        XCTAssertEqual(JSONValue.bool(false).serialized(), "false")
        XCTAssertEqual(JSONValue.string("hi").serialized(), "\"hi\"")
    }

    func testIntegralNumbersHaveNoFraction() {
        XCTAssertEqual(JSONValue.number(1).serialized(), "1")
        XCTAssertEqual(JSONValue.number(0).serialized(), "0")
        XCTAssertEqual(JSONValue.number(-0.0).serialized(), "0")
        XCTAssertEqual(JSONValue.number(-42).serialized(), "-42")
        XCTAssertEqual(JSONValue.number(1_000_000).serialized(), "1000000")
        XCTAssertEqual(JSONValue.number(9_007_199_254_740_992).serialized(), "9007199254740992")
        XCTAssertEqual(JSONValue(integerLiteral: Int(Int32.min)).serialized(), "-2147483648")
    }

    func testNonIntegralAndSpecialNumbers() throws {
        XCTAssertEqual(JSONValue.number(1.5).serialized(), "1.5")
        XCTAssertEqual(JSONValue.number(-0.25).serialized(), "-0.25")
        XCTAssertEqual(JSONValue.number(0.1).serialized(), "0.1")
        // JSON has no NaN or infinity: JSON.stringify writes null.
        XCTAssertEqual(JSONValue.number(.nan).serialized(), "null")
        XCTAssertEqual(JSONValue.number(.infinity).serialized(), "null")
        XCTAssertEqual(JSONValue.number(-.infinity).serialized(), "null")
        // Whatever form large and tiny numbers take, they must parse back exactly.
        for number in [1e21, 1e300, 1e-7, Double.leastNonzeroMagnitude, Double.greatestFiniteMagnitude, 123456.789, 1e18, -1e19] {
            let text = JSONValue.number(number).serialized()
            XCTAssertEqual(try JSONValue(parsing: text), .number(number), text)
        }
    }

    func testStringEscaping() {
        XCTAssertEqual(JSONValue.string("a\"b").serialized(), #""a\"b""#)
        XCTAssertEqual(JSONValue.string("a\\b").serialized(), #""a\\b""#)
        XCTAssertEqual(JSONValue.string("\n\r\t\u{08}\u{0C}").serialized(), #""\n\r\t\b\f""#)
        XCTAssertEqual(JSONValue.string("\u{00}\u{01}\u{1F}").serialized(), #""\u0000\u0001\u001f""#)
        XCTAssertEqual(JSONValue.string("\u{1E}").serialized(), #""\u001e""#)
        // "/" and DEL need no escape; neither does anything non-ASCII.
        XCTAssertEqual(JSONValue.string("a/b\u{7F}").serialized(), "\"a/b\u{7F}\"")
        XCTAssertEqual(JSONValue.string("é€😀").serialized(), "\"é€😀\"")
        XCTAssertEqual(JSONValue.string("").serialized(), "\"\"")
    }

    func testSerializedTextNeverContainsRecordSeparator() {
        // Polling joins packets with \x1e; an escaped string keeps the payload parsable.
        let value: JSONValue = ["a\u{1E}b": "c\u{1E}d"]
        XCTAssertFalse(value.serialized().utf8.contains(0x1E))
    }

    func testContainersKeepKeyOrder() {
        let value: JSONValue = ["z": 1, "a": [true, nil, "x"], "m": ["k": 2.5]]
        XCTAssertEqual(value.serialized(), #"{"z":1,"a":[true,null,"x"],"m":{"k":2.5}}"#)
        XCTAssertEqual(JSONValue.array([]).serialized(), "[]")
        XCTAssertEqual(JSONValue.object([:]).serialized(), "{}")
    }

    func testBinaryOutsideSocketIOIsBase64() {
        let value = JSONValue.array([.binary(ByteBuffer(bytes: [1, 2, 3, 4]))])
        XCTAssertEqual(value.serialized(), #"["AQIDBA=="]"#)
    }

    func testSerializeIntoByteBuffer() {
        let value: JSONValue = ["message": "Invalid namespace"]
        var buffer = ByteBuffer(string: "44/random,")
        value.serialize(into: &buffer)
        XCTAssertEqual(String(buffer: buffer), #"44/random,{"message":"Invalid namespace"}"#)
        XCTAssertEqual(value.description, #"{"message":"Invalid namespace"}"#)
    }

    // MARK: Parsing

    func testParsesScalars() throws {
        XCTAssertEqual(try JSONValue(parsing: "null"), .null)
        XCTAssertEqual(try JSONValue(parsing: "true"), .bool(true))
        XCTAssertEqual(try JSONValue(parsing: "false"), .bool(false))
        XCTAssertEqual(try JSONValue(parsing: "0"), .number(0))
        XCTAssertEqual(try JSONValue(parsing: "-12"), .number(-12))
        XCTAssertEqual(try JSONValue(parsing: "3.25"), .number(3.25))
        XCTAssertEqual(try JSONValue(parsing: "1e3"), .number(1000))
        XCTAssertEqual(try JSONValue(parsing: "1E+2"), .number(100))
        XCTAssertEqual(try JSONValue(parsing: "-2.5e-3"), .number(-0.0025))
        XCTAssertEqual(try JSONValue(parsing: "12345678901234567890"), .number(12_345_678_901_234_567_168))
        XCTAssertEqual(try JSONValue(parsing: #""x""#), .string("x"))
        XCTAssertEqual(try JSONValue(parsing: " \t\r\n [ ] \n"), .array([]))
    }

    func testDistinguishesBoolFromNumber() throws {
        let value = try JSONValue(parsing: "[true,1,false,0]")
        XCTAssertEqual(value, [.bool(true), .number(1), .bool(false), .number(0)])
        XCTAssertNotEqual(JSONValue.bool(true), JSONValue.number(1))
        XCTAssertEqual(value[0]?.boolValue, true)
        XCTAssertNil(value[1]?.boolValue)
        XCTAssertEqual(value[1]?.intValue, 1)
        XCTAssertNil(value[0]?.intValue)
    }

    func testPreservesObjectKeyOrder() throws {
        let text = #"{"zeta":1,"alpha":2,"mid":{"y":true,"b":false},"0":null}"#
        let value = try JSONValue(parsing: text)
        XCTAssertEqual(value.objectValue?.keys, ["zeta", "alpha", "mid", "0"])
        XCTAssertEqual(value.serialized(), text)
    }

    func testDuplicateKeysKeepFirstPositionAndLastValue() throws {
        let value = try JSONValue(parsing: #"{"a":1,"b":2,"a":3}"#)
        XCTAssertEqual(value.serialized(), #"{"a":3,"b":2}"#)
        XCTAssertEqual(value.objectValue?.count, 2)
    }

    func testParsesEscapes() throws {
        XCTAssertEqual(try JSONValue(parsing: #""\"\\\/\b\f\n\r\t""#), .string("\"\\/\u{08}\u{0C}\n\r\t"))
        XCTAssertEqual(try JSONValue(parsing: #""\u0041\u00e9\u20AC""#), .string("Aé€"))
        XCTAssertEqual(try JSONValue(parsing: #""\u0000""#), .string("\u{00}"))
        // A surrogate pair is one non-BMP scalar.
        XCTAssertEqual(try JSONValue(parsing: #""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(try JSONValue(parsing: #""a\uD834\uDD1Eb""#), .string("a𝄞b"))
        // Raw non-BMP characters pass through.
        XCTAssertEqual(try JSONValue(parsing: "\"😀\""), .string("😀"))
    }

    func testLoneSurrogatesBecomeReplacementCharacters() throws {
        XCTAssertEqual(try JSONValue(parsing: #""\ud83d""#), .string("\u{FFFD}"))
        XCTAssertEqual(try JSONValue(parsing: #""\ude00x""#), .string("\u{FFFD}x"))
        XCTAssertEqual(try JSONValue(parsing: #""\ud83d\u0041""#), .string("\u{FFFD}A"))
        XCTAssertEqual(try JSONValue(parsing: #""\ud83d\ud83d\ude00""#), .string("\u{FFFD}😀"))
    }

    func testRoundTripsEverySpecialCharacter() throws {
        var scalars = (0..<0x80).compactMap { Unicode.Scalar($0) }.map(Character.init)
        scalars += ["é", "€", "😀", "\u{2028}", "\u{FEFF}", "𝄞"]
        let string = String(scalars)
        let value: JSONValue = [.string(string), ["key \(string)": .string(string)]]
        let text = value.serialized()
        XCTAssertEqual(try JSONValue(parsing: text), value)
        // Also through bytes, the path a network buffer takes.
        XCTAssertEqual(try JSONValue(parsing: ByteBuffer(string: text)), value)
        XCTAssertEqual(try JSONValue(parsing: Array(text.utf8)), value)
    }

    func testRejectsMalformedJSON() {
        let cases: [(String, JSONParsingError.Reason)] = [
            ("", .unexpectedEnd),
            ("   ", .unexpectedEnd),
            ("[", .unexpectedEnd),
            ("[1,", .unexpectedEnd),
            ("[1,]", .unexpectedCharacter(UInt8(ascii: "]"))),
            ("[1 2]", .unexpectedCharacter(UInt8(ascii: "2"))),
            ("{\"a\" 1}", .unexpectedCharacter(UInt8(ascii: "1"))),
            ("{\"a\":1,}", .unexpectedCharacter(UInt8(ascii: "}"))),
            ("{a:1}", .unexpectedCharacter(UInt8(ascii: "a"))),
            ("{'a':1}", .unexpectedCharacter(UInt8(ascii: "'"))),
            ("tru", .unexpectedEnd),
            ("trux", .unexpectedCharacter(UInt8(ascii: "x"))),
            ("nul", .unexpectedEnd),
            ("NaN", .unexpectedCharacter(UInt8(ascii: "N"))),
            ("undefined", .unexpectedCharacter(UInt8(ascii: "u"))),
            ("01", .invalidNumber),
            ("-", .invalidNumber),
            ("-a", .invalidNumber),
            ("1.", .invalidNumber),
            (".5", .unexpectedCharacter(UInt8(ascii: "."))),
            ("1e", .invalidNumber),
            ("1e+", .invalidNumber),
            ("+1", .unexpectedCharacter(UInt8(ascii: "+"))),
            ("\"abc", .unexpectedEnd),
            ("\"a\\", .unexpectedEnd),
            ("\"\\x\"", .invalidEscape),
            ("\"\\u12\"", .invalidEscape),
            ("\"\\u12", .unexpectedEnd),
            ("\"a\nb\"", .controlCharacterInString),
            ("\"a\u{1E}b\"", .controlCharacterInString),
            ("1 2", .trailingCharacters),
            ("[]]", .trailingCharacters),
            ("{}x", .trailingCharacters),
            ("truefalse", .trailingCharacters),
            ("\"a\"\"b\"", .trailingCharacters),
        ]
        for (text, reason) in cases {
            XCTAssertThrowsError(try JSONValue(parsing: text), "input: \(text.debugDescription)") { error in
                XCTAssertEqual((error as? JSONParsingError)?.reason, reason, "input: \(text.debugDescription)")
            }
        }
    }

    func testErrorOffsets() {
        XCTAssertThrowsError(try JSONValue(parsing: "[1,2,x]")) { error in
            XCTAssertEqual(error as? JSONParsingError, JSONParsingError(.unexpectedCharacter(UInt8(ascii: "x")), offset: 5))
        }
        XCTAssertThrowsError(try JSONValue(parsing: "{} x")) { error in
            XCTAssertEqual(error as? JSONParsingError, JSONParsingError(.trailingCharacters, offset: 3))
        }
    }

    func testRejectsInvalidUTF8InBytes() {
        let cases: [[UInt8]] = [
            [0x22, 0xFF, 0x22],  // never valid
            [0x22, 0xC3, 0x22],  // truncated sequence
            [0x22, 0xC0, 0xAF, 0x22],  // overlong "/"
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // encoded surrogate
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0x5C, 0x6E, 0xFE, 0x22],  // after an escape (slow path)
        ]
        for bytes in cases {
            XCTAssertThrowsError(try JSONValue(parsing: bytes), "\(bytes)") { error in
                XCTAssertEqual((error as? JSONParsingError)?.reason, .invalidUTF8, "\(bytes)")
            }
            XCTAssertThrowsError(try JSONValue(parsing: ByteBuffer(bytes: bytes)))
        }
        XCTAssertEqual(try JSONValue(parsing: Array("\"é😀\"".utf8)), .string("é😀"))
    }

    func testDepthLimit() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try JSONValue(parsing: deep)) { error in
            XCTAssertEqual((error as? JSONParsingError)?.reason, .nestingTooDeep(limit: JSONValue.defaultMaxDepth))
        }
        let objects = String(repeating: #"{"a":"#, count: 200) + "1" + String(repeating: "}", count: 200)
        XCTAssertThrowsError(try JSONValue(parsing: objects))
        XCTAssertNoThrow(try JSONValue(parsing: objects, maxDepth: 200))
        let atLimit = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        XCTAssertNoThrow(try JSONValue(parsing: atLimit))
        XCTAssertThrowsError(try JSONValue(parsing: "[" + atLimit + "]"))
        XCTAssertThrowsError(try JSONValue(parsing: "[[1]]", maxDepth: 1))
        XCTAssertNoThrow(try JSONValue(parsing: "[1]", maxDepth: 1))
    }

    func testLargeNumbersOverflowToInfinityLikeJavaScript() throws {
        XCTAssertEqual(try JSONValue(parsing: "1e400"), .number(.infinity))
        XCTAssertEqual(try JSONValue(parsing: "-1e400"), .number(-.infinity))
    }

    // MARK: Accessors and literals

    func testAccessors() throws {
        let value = try JSONValue(parsing: #"{"s":"x","n":2.5,"i":3,"b":true,"a":[1],"o":{},"z":null}"#)
        XCTAssertEqual(value["s"]?.stringValue, "x")
        XCTAssertEqual(value["n"]?.doubleValue, 2.5)
        XCTAssertNil(value["n"]?.intValue)
        XCTAssertEqual(value["i"]?.intValue, 3)
        XCTAssertEqual(value["b"]?.boolValue, true)
        XCTAssertEqual(value["a"]?.arrayValue, [1])
        XCTAssertEqual(value["o"]?.objectValue, JSONObject())
        XCTAssertEqual(value["z"]?.isNull, true)
        XCTAssertNil(value["missing"])
        XCTAssertNil(value[0])
        XCTAssertNil(value["a"]?[1])
        XCTAssertNil(value["a"]?[-1])
        XCTAssertFalse(value.containsBinary)
        XCTAssertTrue(JSONValue.array([["k": .binary(ByteBuffer())]]).containsBinary)
    }

    func testJSONObjectMutation() {
        var object: JSONObject = ["a": 1, "b": 2]
        object["c"] = 3
        object["a"] = 10
        XCTAssertEqual(object.keys, ["a", "b", "c"])
        object["b"] = nil
        XCTAssertEqual(object.keys, ["a", "c"])
        XCTAssertEqual(object.count, 2)
        XCTAssertEqual(JSONValue.object(object).serialized(), #"{"a":10,"c":3}"#)
        // Equality ignores order.
        XCTAssertEqual(JSONObject(["x": 1, "y": 2] as [String: JSONValue]), ["y": 2, "x": 1])
        XCTAssertEqual(Set([JSONValue.object(["x": 1, "y": 2]), .object(["y": 2, "x": 1])]).count, 1)
    }

    func testLargeObjectsUseAnIndexAndStayOrdered() throws {
        var object = JSONObject()
        for number in 0..<50 {
            object["k\(number)"] = .number(Double(number))
        }
        XCTAssertEqual(object.count, 50)
        XCTAssertEqual(object["k37"], 37)
        object["k10"] = nil
        object["k20"] = "replaced"
        object["new"] = true
        XCTAssertNil(object["k10"])
        XCTAssertEqual(object["k49"], 49)
        XCTAssertEqual(object["k20"], "replaced")
        XCTAssertEqual(object.keys.first, "k0")
        XCTAssertEqual(object.keys.last, "new")
        XCTAssertEqual(object.keys.count, 50)
        XCTAssertEqual(object.dictionary.count, 50)
        // Same members in another order: equal, with equal hashes.
        let reversed = JSONObject(object.reversed().map { ($0.key, $0.value) })
        XCTAssertEqual(reversed, object)
        XCTAssertEqual(reversed.hashValue, object.hashValue)
        XCTAssertNotEqual(reversed.keys, object.keys)
        var different = reversed
        different["k0"] = 1
        XCTAssertNotEqual(different, object)
    }

    func testManyKeysParseInLinearTime() throws {
        // 50k distinct keys plus duplicates: quadratic key lookups would take minutes.
        var text = "{"
        for number in 0..<50_000 {
            text += "\"k\(number)\":\(number),"
        }
        text += #""k0":"last"}"#
        let value = try JSONValue(parsing: text)
        XCTAssertEqual(value.objectValue?.count, 50_000)
        XCTAssertEqual(value["k0"], "last")
        XCTAssertEqual(value["k49999"], 49_999)
        XCTAssertEqual(value.objectValue?.keys.first, "k0")
    }

    // MARK: Codable

    struct Message: Codable, Equatable {
        var text: String
        var count: Int
        var ratio: Double
        var flag: Bool
        var tags: [String]
        var nested: Nested?
        var blob: Data?

        struct Nested: Codable, Equatable {
            var id: Int
        }
    }

    func testCodableBridging() throws {
        let message = Message(
            text: "hi", count: 3, ratio: 0.5, flag: true, tags: ["a", "b"], nested: .init(id: 7), blob: Data([1, 2, 3]))
        let value = try JSONValue(encoding: message)
        XCTAssertEqual(value["text"], "hi")
        XCTAssertEqual(value["count"], 3)
        XCTAssertEqual(value["flag"], true)
        XCTAssertEqual(value["nested"]?["id"], 7)
        XCTAssertEqual(value["blob"], "AQID")
        XCTAssertEqual(try value.decode(as: Message.self), message)
    }

    func testDecodeBinaryIntoData() throws {
        struct Upload: Decodable {
            var name: String
            var file: Data
        }
        let value: JSONValue = ["name": "f", "file": .binary(ByteBuffer(bytes: [9, 8, 7]))]
        let upload = try value.decode(as: Upload.self)
        XCTAssertEqual(upload.file, Data([9, 8, 7]))
    }

    func testDecodeReportsTypeMismatch() {
        XCTAssertThrowsError(try JSONValue.string("x").decode(as: Int.self))
        XCTAssertThrowsError(try JSONValue.bool(true).decode(as: Int.self))
        XCTAssertEqual(try JSONValue.number(4).decode(as: Int.self), 4)
    }

    func testJSONValueIsCodableItself() throws {
        let value: JSONValue = ["a": [1, 2.5, "x", true, nil], "b": ["c": false]]
        let data = try JSONEncoder().encode(value)
        let decoded = try JSONDecoder().decode(JSONValue.self, from: data)
        XCTAssertEqual(decoded, value)
        // Integral numbers survive JSONEncoder as integers.
        XCTAssertEqual(String(decoding: try JSONEncoder().encode(JSONValue.number(1)), as: UTF8.self), "1")
        // A JSONValue wrapped in a Codable struct round-trips too.
        struct Envelope: Codable, Equatable { var payload: JSONValue }
        let envelope = Envelope(payload: value)
        XCTAssertEqual(try JSONValue(encoding: envelope).decode(as: Envelope.self), envelope)
        XCTAssertEqual(try JSONValue(encoding: value), value)
    }

    // MARK: Fuzz

    func testRandomBytesNeverCrashTheParser() {
        var rng = SeededGenerator(seed: 0x5EED)
        let alphabet = Array(#"{}[]",:\-+.eE0123456789truefalsnul \u"#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xA9, 0xF0, 0xFF]
        for _ in 0..<20_000 {
            let length = Int.random(in: 0..<24, using: &rng)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &rng)! }
            if let value = try? JSONValue(parsing: bytes) {
                // Whatever parses must serialize and parse back to the same value.
                let text = value.serialized()
                XCTAssertEqual(try? JSONValue(parsing: text), value.normalizedForComparison, text)
            }
        }
    }

    func testRandomValuesRoundTrip() throws {
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<2_000 {
            let value = JSONValue.random(depth: 4, using: &rng)
            let text = value.serialized()
            XCTAssertEqual(try JSONValue(parsing: text), value, text)
            var buffer = ByteBuffer()
            value.serialize(into: &buffer)
            XCTAssertEqual(String(buffer: buffer), text)
        }
    }
}

extension JSONValue {
    /// NaN never equals itself and infinity serializes as null; map them so
    /// round-trip checks compare what can round-trip.
    var normalizedForComparison: JSONValue {
        switch self {
        case .number(let number) where !number.isFinite: return .null
        case .array(let elements): return .array(elements.map(\.normalizedForComparison))
        case .object(let object): return .object(JSONObject(object.map { ($0.key, $0.value.normalizedForComparison) }))
        default: return self
        }
    }

    static func random(depth: Int, using rng: inout SeededGenerator) -> JSONValue {
        let choice = Int.random(in: 0..<(depth > 0 ? 7 : 5), using: &rng)
        switch choice {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2:
            if Bool.random(using: &rng) {
                return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &rng)))
            }
            return .number(Double.random(in: -1e6...1e6, using: &rng))
        case 3, 4: return .string(String.random(using: &rng))
        case 5:
            return .array((0..<Int.random(in: 0..<5, using: &rng)).map { _ in random(depth: depth - 1, using: &rng) })
        default:
            var object = JSONObject()
            for _ in 0..<Int.random(in: 0..<5, using: &rng) {
                object[String.random(using: &rng)] = random(depth: depth - 1, using: &rng)
            }
            return .object(object)
        }
    }
}

extension String {
    static func random(using rng: inout SeededGenerator) -> String {
        let pool: [Character] = ["a", "b", "Z", "0", " ", "\"", "\\", "/", "\n", "\u{0}", "\u{1E}", "\u{7F}", "é", "€", "😀", "𝄞", "\u{FFFD}"]
        return String((0..<Int.random(in: 0..<8, using: &rng)).map { _ in pool.randomElement(using: &rng)! })
    }
}

/// SplitMix64: deterministic, so a fuzz failure reproduces.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
