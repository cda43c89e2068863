import NIOCore
import NIOHTTP1
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the client sent when it connected to a namespace.
public struct SocketIOHandshake: Sendable {
    /// The headers of the first HTTP request of the session (cookies, `Authorization`,
    /// `Origin`...).
    public let headers: HTTPHeaders
    /// The query parameters of that request, percent-decoded (`EIO` and `transport` among them).
    public let query: [String: String]
    /// The client's IP address (`""` when unknown).
    public let address: String
    /// The peer's socket address (a proxy's, behind one); nil when unknown or when the
    /// handshake was reported by another node.
    public let remoteAddress: SocketAddress?
    /// The CONNECT packet's payload, `{}` when it had none.
    public let auth: JSONObject
    /// The URI of the Engine.IO handshake request.
    public let url: String
    /// When the socket connected: milliseconds since 1970.
    public let issued: Int64

    /// A handshake from its parts (the server builds it; tests and adapters may too).
    public init(headers: HTTPHeaders, query: [String: String], remoteAddress: SocketAddress?, auth: JSONObject, url: String) {
        self.headers = headers
        self.query = query
        self.remoteAddress = remoteAddress
        self.address = remoteAddress?.ipAddress ?? ""
        self.auth = auth
        self.url = url
        self.issued = Self.nowMilliseconds()
    }

    /// A handshake as another node reports it (`fetchSockets` across servers): the address
    /// as text, no socket address.
    public init(headers: HTTPHeaders, query: [String: String], address: String, auth: JSONObject, url: String, issued: Int64) {
        self.headers = headers
        self.query = query
        self.remoteAddress = nil
        self.address = address
        self.auth = auth
        self.url = url
        self.issued = issued
    }

    private static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
