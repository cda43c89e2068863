/// A parsed `ws://` or `wss://` URL (RFC 6455 §3). `http://` and `https://` are accepted
/// and mean the same, as in browsers.
public struct WebSocketURL: Sendable, Equatable, CustomStringConvertible {
    /// Whether the connection uses TLS (`wss://` or `https://`).
    public var secure: Bool
    /// The host, without the brackets of an IPv6 literal.
    public var host: String
    /// The TCP port: the URL's, or 80 (`ws`) / 443 (`wss`) when it names none.
    public var port: Int
    /// The path and query sent in the request line, e.g. `/chat?room=1`.
    public var resource: String

    /// A URL from its parts; `port` defaults to the scheme's (80 or 443).
    public init(secure: Bool, host: String, port: Int? = nil, resource: String = "/") {
        self.secure = secure
        self.host = host
        self.port = port ?? (secure ? 443 : 80)
        self.resource = resource
    }

    /// Parses a URL string, as `new WebSocket(url)` does: the scheme must be `ws`, `wss`,
    /// `http` or `https`, fragments are refused, and the host must be present. Throws
    /// ``WebSocketClientError/invalidURL(_:_:)`` with the reason otherwise.
    public init(_ string: String) throws(WebSocketClientError) {
        guard let schemeEnd = string.firstRange(of: "://") else {
            throw .invalidURL(string, "missing scheme (ws:// or wss://)")
        }
        switch string[..<schemeEnd.lowerBound].lowercased() {
        case "ws", "http": secure = false
        case "wss", "https": secure = true
        default: throw .invalidURL(string, "scheme must be ws or wss")
        }
        if string.contains("#") { throw .invalidURL(string, "a WebSocket URL cannot have a fragment") }
        let rest = string[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var resource = String(rest[authorityEnd...])
        if resource.isEmpty { resource = "/" } else if resource.hasPrefix("?") { resource = "/" + resource }
        guard !resource.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            throw .invalidURL(string, "spaces or control characters in the path")
        }
        guard !authority.contains("@") else { throw .invalidURL(string, "user information is not supported") }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .invalidURL(string, "unterminated IPv6 address") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidURL(string, "unexpected text after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw .invalidURL(string, "missing host") }
        var port = secure ? 443 : 80
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value), portText.allSatisfy(\.isASCII) else {
                throw .invalidURL(string, "invalid port \(portText)")
            }
            port = value
        }
        self.host = String(host)
        self.port = port
        self.resource = resource
    }

    var isDefaultPort: Bool { port == (secure ? 443 : 80) }
    var isIPv6: Bool { host.contains(":") }
    var isIPAddress: Bool {
        isIPv6 || (host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." })
    }

    /// The `Host` header: the port is left out when it is the scheme's default.
    var hostHeader: String {
        let name = isIPv6 ? "[\(host)]" : host
        return isDefaultPort ? name : "\(name):\(port)"
    }

    public var description: String { "\(secure ? "wss" : "ws")://\(hostHeader)\(resource)" }
}
