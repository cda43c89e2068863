import NIOCore

/// Why a JSON text was rejected, and where.
public struct JSONParsingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of malformed JSON.
    public enum Reason: Sendable, Hashable {
        /// The text ended inside a value (or was empty).
        case unexpectedEnd
        /// A byte that cannot start or continue a value here.
        case unexpectedCharacter(UInt8)
        /// A number that does not follow the JSON grammar (`01`, `1.`, `-`, `1e`).
        case invalidNumber
        /// A backslash escape other than `\" \\ \/ \b \f \n \r \t \uXXXX`.
        case invalidEscape
        /// A raw control character (below U+0020) inside a string.
        case controlCharacterInString
        /// Bytes that are not UTF-8.
        case invalidUTF8
        /// Arrays and objects nested deeper than the limit.
        case nestingTooDeep(limit: Int)
        /// A complete value followed by something other than whitespace.
        case trailingCharacters
    }

    /// What is wrong.
    public var reason: Reason
    /// Byte offset in the input where the problem was found.
    public var offset: Int

    /// An error of this kind at this byte offset.
    public init(_ reason: Reason, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        "JSONParsingError(\(reason) at byte \(offset))"
    }
}

extension JSONValue {
    /// The default nesting limit: deep enough for any real payload, shallow
    /// enough that a hostile `[[[[...` cannot exhaust the stack.
    public static let defaultMaxDepth = 128

    /// Parses exactly one JSON value (surrounded by optional whitespace).
    public init(parsing text: String, maxDepth: Int = JSONValue.defaultMaxDepth) throws(JSONParsingError) {
        var text = text
        // A Swift string is valid UTF-8 already: skip re-validating it.
        let result = text.withUTF8 { bytes in
            Result { () throws(JSONParsingError) -> JSONValue in
                try JSONParser.parse(bytes, maxDepth: maxDepth, inputIsValidUTF8: true)
            }
        }
        self = try result.get()
    }

    /// Parses exactly one JSON value from the readable bytes of `buffer`.
    public init(parsing buffer: ByteBuffer, maxDepth: Int = JSONValue.defaultMaxDepth) throws(JSONParsingError) {
        let result = buffer.withUnsafeReadableBytes { raw in
            Result { () throws(JSONParsingError) -> JSONValue in
                try JSONParser.parse(raw.assumingMemoryBound(to: UInt8.self), maxDepth: maxDepth, inputIsValidUTF8: false)
            }
        }
        self = try result.get()
    }

    /// Parses exactly one JSON value from UTF-8 bytes.
    public init(parsing bytes: [UInt8], maxDepth: Int = JSONValue.defaultMaxDepth) throws(JSONParsingError) {
        let result = bytes.withUnsafeBufferPointer { pointer in
            Result { () throws(JSONParsingError) -> JSONValue in
                try JSONParser.parse(pointer, maxDepth: maxDepth, inputIsValidUTF8: false)
            }
        }
        self = try result.get()
    }
}

/// A strict recursive-descent parser (RFC 8259) over UTF-8 bytes.
///
/// Every read is bounds-checked by hand (`peek`), because the buffer is an
/// `UnsafeBufferPointer` whose subscript is unchecked in release builds.
internal struct JSONParser: ~Copyable {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index: Int
    private let maxDepth: Int
    private var depth = 0
    private let inputIsValidUTF8: Bool
    /// Reused for strings that contain escapes, so each one does not allocate.
    private var scratch: [UInt8] = []

    private init(bytes: UnsafeBufferPointer<UInt8>, start: Int, maxDepth: Int, inputIsValidUTF8: Bool) {
        self.bytes = bytes
        self.index = start
        self.maxDepth = maxDepth
        self.inputIsValidUTF8 = inputIsValidUTF8
    }

    /// Parses the bytes from `start` to the end as exactly one value.
    /// `offsetBase` is added to error offsets so they point into the caller's text.
    static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>,
        from start: Int = 0,
        maxDepth: Int,
        inputIsValidUTF8: Bool
    ) throws(JSONParsingError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, start: start, maxDepth: maxDepth, inputIsValidUTF8: inputIsValidUTF8)
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        guard parser.index == bytes.count else {
            throw JSONParsingError(.trailingCharacters, offset: parser.index)
        }
        return value
    }

    // MARK: Bytes

    private enum ASCII {
        static let quote = UInt8(ascii: "\"")
        static let backslash = UInt8(ascii: "\\")
        static let slash = UInt8(ascii: "/")
        static let comma = UInt8(ascii: ",")
        static let colon = UInt8(ascii: ":")
        static let openBracket = UInt8(ascii: "[")
        static let closeBracket = UInt8(ascii: "]")
        static let openBrace = UInt8(ascii: "{")
        static let closeBrace = UInt8(ascii: "}")
        static let minus = UInt8(ascii: "-")
        static let plus = UInt8(ascii: "+")
        static let dot = UInt8(ascii: ".")
        static let zero = UInt8(ascii: "0")
        static let nine = UInt8(ascii: "9")
        static let lowerE = UInt8(ascii: "e")
        static let upperE = UInt8(ascii: "E")
    }

    @inline(__always)
    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= ASCII.zero && byte <= ASCII.nine
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D:
                index += 1
            default:
                return
            }
        }
    }

    private func error(_ reason: JSONParsingError.Reason) -> JSONParsingError {
        JSONParsingError(reason, offset: index)
    }

    private func unexpected() -> JSONParsingError {
        if let byte = peek() {
            return error(.unexpectedCharacter(byte))
        }
        return error(.unexpectedEnd)
    }

    // MARK: Values

    private mutating func parseValue() throws(JSONParsingError) -> JSONValue {
        guard let byte = peek() else { throw error(.unexpectedEnd) }
        switch byte {
        case ASCII.quote:
            return .string(try parseString())
        case ASCII.openBracket:
            return try parseArray()
        case ASCII.openBrace:
            return try parseObject()
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case ASCII.minus, ASCII.zero...ASCII.nine:
            return .number(try parseNumber())
        default:
            throw error(.unexpectedCharacter(byte))
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParsingError) {
        let count = literal.utf8CodeUnitCount
        let start = literal.utf8Start
        for offset in 0..<count {
            guard peek() == start[offset] else { throw unexpected() }
            index += 1
        }
    }

    private mutating func enterContainer() throws(JSONParsingError) {
        depth += 1
        if depth > maxDepth {
            throw error(.nestingTooDeep(limit: maxDepth))
        }
    }

    private mutating func parseArray() throws(JSONParsingError) -> JSONValue {
        try enterContainer()
        index += 1  // "["
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == ASCII.closeBracket {
            index += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            switch peek() {
            case ASCII.comma:
                index += 1
            case ASCII.closeBracket:
                index += 1
                depth -= 1
                return .array(elements)
            default:
                throw unexpected()
            }
        }
    }

    private mutating func parseObject() throws(JSONParsingError) -> JSONValue {
        try enterContainer()
        index += 1  // "{"
        var object = JSONObject()
        skipWhitespace()
        if peek() == ASCII.closeBrace {
            index += 1
            depth -= 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard peek() == ASCII.quote else { throw unexpected() }
            let key = try parseString()
            skipWhitespace()
            guard peek() == ASCII.colon else { throw unexpected() }
            index += 1
            skipWhitespace()
            object[key] = try parseValue()
            skipWhitespace()
            switch peek() {
            case ASCII.comma:
                index += 1
            case ASCII.closeBrace:
                index += 1
                depth -= 1
                return .object(object)
            default:
                throw unexpected()
            }
        }
    }

    // MARK: Numbers

    private mutating func parseNumber() throws(JSONParsingError) -> Double {
        let start = index
        var negative = false
        if peek() == ASCII.minus {
            negative = true
            index += 1
        }
        // Integer part: "0" alone, or a non-zero digit followed by digits.
        guard let first = peek(), Self.isDigit(first) else {
            throw error(.invalidNumber)
        }
        var mantissa: UInt64 = 0
        var digitCount = 0
        if first == ASCII.zero {
            index += 1
            if let next = peek(), Self.isDigit(next) {
                throw error(.invalidNumber)  // leading zero
            }
            digitCount = 1
        } else {
            while let byte = peek(), Self.isDigit(byte) {
                if digitCount < 18 {
                    mantissa = mantissa &* 10 &+ UInt64(byte &- ASCII.zero)
                }
                digitCount += 1
                index += 1
            }
        }
        var isIntegral = true
        if peek() == ASCII.dot {
            isIntegral = false
            index += 1
            guard let byte = peek(), Self.isDigit(byte) else { throw error(.invalidNumber) }
            while let byte = peek(), Self.isDigit(byte) { index += 1 }
        }
        if let byte = peek(), byte == ASCII.lowerE || byte == ASCII.upperE {
            isIntegral = false
            index += 1
            if let sign = peek(), sign == ASCII.plus || sign == ASCII.minus { index += 1 }
            guard let digit = peek(), Self.isDigit(digit) else { throw error(.invalidNumber) }
            while let byte = peek(), Self.isDigit(byte) { index += 1 }
        }
        // Fast path: up to 15 digits is exact in a Double.
        if isIntegral && digitCount <= 15 {
            let magnitude = Double(mantissa)
            return negative ? -magnitude : magnitude
        }
        // The slice matched the JSON grammar, which `Double(_:)` accepts; an
        // out-of-range exponent gives ±infinity, as `JSON.parse` does.
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else {
            throw JSONParsingError(.invalidNumber, offset: start)
        }
        return value
    }

    // MARK: Strings

    /// Parses a string starting at its opening quote.
    private mutating func parseString() throws(JSONParsingError) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes, so the bytes can become the String directly.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == ASCII.quote {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                if !inputIsValidUTF8 && !UTF8Validation.isValid(slice) {
                    throw JSONParsingError(.invalidUTF8, offset: start)
                }
                index += 1
                return String(decoding: slice, as: UTF8.self)
            }
            if byte == ASCII.backslash {
                break
            }
            if byte < 0x20 {
                throw error(.controlCharacterInString)
            }
            index += 1
        }
        guard index < bytes.count else { throw error(.unexpectedEnd) }
        return try parseEscapedString(start: start)
    }

    /// The slow path: the string has escapes; decode into `scratch`.
    private mutating func parseEscapedString(start: Int) throws(JSONParsingError) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while true {
            guard let byte = peek() else { throw error(.unexpectedEnd) }
            switch byte {
            case ASCII.quote:
                if !inputIsValidUTF8 {
                    let valid = scratch.withUnsafeBufferPointer { UTF8Validation.isValid($0) }
                    if !valid { throw JSONParsingError(.invalidUTF8, offset: start) }
                }
                index += 1
                return String(decoding: scratch, as: UTF8.self)
            case ASCII.backslash:
                index += 1
                try parseEscape()
            case 0..<0x20:
                throw error(.controlCharacterInString)
            default:
                scratch.append(byte)
                index += 1
            }
        }
    }

    /// Decodes one escape (after the backslash) into `scratch`.
    private mutating func parseEscape() throws(JSONParsingError) {
        guard let byte = peek() else { throw error(.unexpectedEnd) }
        index += 1
        switch byte {
        case ASCII.quote: scratch.append(ASCII.quote)
        case ASCII.backslash: scratch.append(ASCII.backslash)
        case ASCII.slash: scratch.append(ASCII.slash)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try parseHex4()
            var scalar: UInt32
            switch unit {
            case 0xD800...0xDBFF:
                // A high surrogate pairs with a following `\uDC00`-`\uDFFF`.
                if index + 1 < bytes.count, bytes[index] == ASCII.backslash, bytes[index + 1] == UInt8(ascii: "u") {
                    let saved = index
                    index += 2
                    let low = try parseHex4()
                    if (0xDC00...0xDFFF).contains(low) {
                        scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                    } else {
                        // Not a pair: the high surrogate is lone; re-read the next escape on its own.
                        index = saved
                        scalar = 0xFFFD
                    }
                } else {
                    scalar = 0xFFFD
                }
            case 0xDC00...0xDFFF:
                // A lone surrogate is legal JSON but not a Unicode scalar:
                // JavaScript peers can send one; substitute U+FFFD.
                scalar = 0xFFFD
            default:
                scalar = UInt32(unit)
            }
            appendUTF8(scalar)
        default:
            index -= 1
            throw error(.invalidEscape)
        }
    }

    private mutating func parseHex4() throws(JSONParsingError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let byte = peek() else { throw error(.unexpectedEnd) }
            let digit: UInt8
            switch byte {
            case ASCII.zero...ASCII.nine: digit = byte - ASCII.zero
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error(.invalidEscape)
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | (scalar >> 6)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | (scalar >> 12)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            scratch.append(UInt8(0xF0 | (scalar >> 18)))
            scratch.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }
}

/// UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF).
internal enum UTF8Validation {
    static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            // The allowed range of the second byte depends on the lead byte.
            let length: Int
            var secondLow: UInt8 = 0x80
            var secondHigh: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF:
                length = 2
            case 0xE0:
                length = 3
                secondLow = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF:
                length = 3
            case 0xED:
                length = 3
                secondHigh = 0x9F
            case 0xF0:
                length = 4
                secondLow = 0x90
            case 0xF1...0xF3:
                length = 4
            case 0xF4:
                length = 4
                secondHigh = 0x8F
            default:
                return false
            }
            guard index + length <= count else { return false }
            let second = bytes[index + 1]
            guard second >= secondLow && second <= secondHigh else { return false }
            var offset = 2
            while offset < length {
                guard bytes[index + offset] & 0xC0 == 0x80 else { return false }
                offset += 1
            }
            index += length
        }
        return true
    }

    static func isValid(_ buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { isValid($0.assumingMemoryBound(to: UInt8.self)) }
    }
}
