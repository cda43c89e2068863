/// One element of a `Sec-WebSocket-Extensions` header (RFC 6455 §9.1): an extension name
/// and its parameters, in order. Parameter values given as quoted strings are unquoted.
public struct WebSocketExtensionOffer: Sendable, Equatable, CustomStringConvertible {
    /// The extension token, e.g. `permessage-deflate` (compare case-insensitively).
    public var name: String
    /// The parameters in header order; a parameter without `=` has a nil value.
    public var parameters: [(name: String, value: String?)]

    /// An element with these parameters, as written into a header.
    public init(name: String, parameters: [(name: String, value: String?)] = []) {
        self.name = name
        self.parameters = parameters
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.name == rhs.name && lhs.parameters.count == rhs.parameters.count
            && zip(lhs.parameters, rhs.parameters).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    /// The header form, e.g. `permessage-deflate; client_max_window_bits=10`.
    public var description: String {
        var out = name
        for (name, value) in parameters {
            out += "; " + name
            if let value { out += "=" + value }
        }
        return out
    }
}

/// Parses and writes `Sec-WebSocket-Extensions` values (RFC 6455 §9.1 with the list and
/// token rules of RFC 9110 §5.6):
///
///     extension-list = 1#extension
///     extension      = extension-token *( ";" extension-param )
///     extension-param = token [ "=" (token / quoted-string) ]
public enum ExtensionHeader {
    /// A header value that breaks the grammar; the handshake answers 400 with ``reason``.
    public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong, for the 400 response and the logs.
        public var reason: String
        public var description: String { "malformed Sec-WebSocket-Extensions: \(reason)" }
    }

    /// Parses every value of the header (several header lines are one comma-separated list).
    public static func parse(_ values: [String]) throws(SyntaxError) -> [WebSocketExtensionOffer] {
        var offers: [WebSocketExtensionOffer] = []
        for value in values {
            var scanner = Scanner(Array(value.utf8))
            try scanner.parseList(into: &offers)
        }
        return offers
    }

    /// Parses one header value.
    public static func parse(_ value: String) throws(SyntaxError) -> [WebSocketExtensionOffer] {
        try parse([value])
    }

    static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    static func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy(isTokenByte)
    }

    private struct Scanner {
        let bytes: [UInt8]
        var i = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { i >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[i] }

        mutating func skipSpaces() {
            while let c = peek, c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { i += 1 }
        }

        mutating func token(_ what: String) throws(SyntaxError) -> String {
            let start = i
            while let c = peek, isTokenByte(c) { i += 1 }
            guard i > start else {
                throw SyntaxError(reason: atEnd ? "expected \(what) at the end" : "expected \(what) at byte \(i)")
            }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }

        mutating func quotedString() throws(SyntaxError) -> String {
            i += 1  // opening quote
            var out: [UInt8] = []
            while let c = peek {
                i += 1
                switch c {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = peek else { throw SyntaxError(reason: "unterminated quoted string") }
                    i += 1
                    out.append(escaped)
                default:
                    out.append(c)
                }
            }
            throw SyntaxError(reason: "unterminated quoted string")
        }

        mutating func parseList(into offers: inout [WebSocketExtensionOffer]) throws(SyntaxError) {
            while true {
                skipSpaces()
                guard let c = peek else { return }
                if c == UInt8(ascii: ",") {  // empty list elements are allowed
                    i += 1
                    continue
                }
                offers.append(try parseExtension())
                skipSpaces()
                guard let next = peek else { return }
                guard next == UInt8(ascii: ",") else { throw SyntaxError(reason: "unexpected character at byte \(i)") }
                i += 1
            }
        }

        mutating func parseExtension() throws(SyntaxError) -> WebSocketExtensionOffer {
            var offer = WebSocketExtensionOffer(name: try token("an extension name"))
            while true {
                skipSpaces()
                guard peek == UInt8(ascii: ";") else { return offer }
                i += 1
                skipSpaces()
                let name = try token("a parameter name")
                skipSpaces()
                var value: String?
                if peek == UInt8(ascii: "=") {
                    i += 1
                    skipSpaces()
                    if peek == UInt8(ascii: "\"") {
                        let unquoted = try quotedString()
                        // RFC 6455 §9.1: a quoted value must still be a token.
                        guard isToken(unquoted) else { throw SyntaxError(reason: "quoted value of \(name) is not a token") }
                        value = unquoted
                    } else {
                        value = try token("a value for \(name)")
                    }
                }
                offer.parameters.append((name, value))
            }
        }
    }
}
