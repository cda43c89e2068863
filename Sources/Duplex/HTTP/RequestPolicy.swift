import NIOHTTP1

/// Which web pages may talk to a server. Browsers put the page's origin in an `Origin`
/// header on WebSocket handshakes and cross-site requests; a server that ignores it lets any
/// site a user visits read and write through the user's connection (cross-site WebSocket
/// hijacking). Requests without `Origin` come from non-browser clients and pass.
public enum OriginPolicy: Sendable, Equatable {
    /// Every origin (a public API meant for any site).
    case any
    /// Pages served by this server (the `Origin`'s host and port are the `Host` header's),
    /// plus the listed origins (`https://app.example.com`; `*` allows any).
    case sameOrigin(alsoAllow: [String] = [])

    /// The policy with more allowed origins.
    public func allowing(_ origins: [String]) -> OriginPolicy {
        switch self {
        case .any: .any
        case .sameOrigin(let listed): origins.contains("*") ? .any : .sameOrigin(alsoAllow: listed + origins)
        }
    }
}

/// The checks every request passes before it is served or upgraded: where it comes from
/// (`Origin`) and which name it was sent to (`Host`).
struct RequestPolicy: Sendable {
    var origins: OriginPolicy
    /// Names accepted in `Host` besides the loopback ones, when the server listens on
    /// loopback only (DNS rebinding: a hostile name resolving to 127.0.0.1 must not reach it).
    var allowedHosts: [String]

    /// Why the request must be refused (403), or nil.
    func refusal(of head: HTTPRequestHead, loopbackOnly: Bool) -> String? {
        let host = head.headers.first(name: "host")
        if loopbackOnly, let host, !Self.isLoopback(host), !allowedHosts.contains(where: { Self.sameName($0, host) }) {
            return "host not allowed: \(Self.printable(host)) (this server accepts loopback names; allow others with allowedHosts / --allow-host)"
        }
        guard case .sameOrigin(let listed) = origins, let origin = head.headers.first(name: "origin") else { return nil }
        if listed.contains("*") || listed.contains(where: { Self.normalizedOrigin($0) == Self.normalizedOrigin(origin) }) { return nil }
        if let host, Self.isSameOrigin(origin, host: host) { return nil }
        return "origin not allowed: \(Self.printable(origin)) (allow it with allowedOrigins / --allow-origin)"
    }

    // MARK: - Names

    /// `host[:port]` of a `Host` header, lowercased, split.
    static func splitAuthority(_ authority: Substring) -> (host: Substring, port: Int?) {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            let host = authority[...close]
            let rest = authority[authority.index(after: close)...]
            return (host, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        if let colon = authority.lastIndex(of: ":") {
            return (authority[..<colon], Int(authority[authority.index(after: colon)...]))
        }
        return (authority, nil)
    }

    static func isLoopback(_ hostHeader: String) -> Bool {
        let host = splitAuthority(Substring(hostHeader.lowercased())).host
        if host == "localhost" || host.hasSuffix(".localhost") || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// A configured host name against a `Host` header (any port).
    static func sameName(_ allowed: String, _ hostHeader: String) -> Bool {
        splitAuthority(Substring(allowed.lowercased())).host == splitAuthority(Substring(hostHeader.lowercased())).host
    }

    /// `scheme` and the rest of `scheme://rest`.
    private static func splitScheme(_ text: String) -> (scheme: Substring, rest: Substring)? {
        let utf8 = text.utf8
        guard let colon = utf8.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let rest = text[colon...]
        guard rest.hasPrefix("://") else { return nil }
        return (text[..<colon], rest.dropFirst(3))
    }

    /// `scheme://host:port` with the scheme's default port made explicit, lowercased.
    static func normalizedOrigin(_ origin: String) -> String? {
        guard let (scheme, rest) = splitScheme(origin.lowercased()) else { return nil }
        var authority = rest
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        let (host, port) = splitAuthority(authority)
        guard !host.isEmpty, let effectivePort = port ?? defaultPort(scheme) else { return nil }
        return "\(scheme)://\(host):\(effectivePort)"
    }

    /// Whether a page at `origin` is served by the server that received `Host: host`
    /// (never for `null`: sandboxed frames and file pages).
    static func isSameOrigin(_ origin: String, host hostHeader: String) -> Bool {
        guard let (scheme, _) = splitScheme(origin.lowercased()), let normalized = normalizedOrigin(origin) else { return false }
        let (host, port) = splitAuthority(Substring(hostHeader.lowercased()))
        guard let effectivePort = port ?? defaultPort(scheme) else { return false }
        return normalized == "\(scheme)://\(host):\(effectivePort)"
    }

    private static func defaultPort(_ scheme: Substring) -> Int? {
        switch scheme {
        case "http", "ws": 80
        case "https", "wss": 443
        default: nil
        }
    }

    /// A header value quoted for a reason line: no control characters, bounded length.
    private static func printable(_ value: String) -> String {
        let cleaned = String(value.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(200))
        return "\"\(cleaned)\""
    }
}

extension HTTPHeaders {
    /// The first field that must not be sent: a name that is not an HTTP token, or a value
    /// with CR, LF or NUL (response splitting). Nil when all are valid.
    var firstInvalidField: String? {
        for (name, value) in self {
            let validName = !name.isEmpty && name.utf8.allSatisfy(Self.isTokenByte)
            let validValue = !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
            if !validName || !validValue { return name }
        }
        return nil
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
