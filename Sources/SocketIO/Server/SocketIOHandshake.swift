import NIOCore
import NIOHTTP1

/// What the client sent when it connected to a namespace.
public struct SocketIOHandshake: Sendable {
    /// The headers of the first HTTP request of the session (cookies, `Authorization`,
    /// `Origin`...).
    public let headers: HTTPHeaders
    /// The query parameters of that request, percent-decoded (`EIO` and `transport` among them).
    public let query: [String: String]
    /// The client's IP address (`""` when unknown).
    public let address: String
    /// The peer's socket address (a proxy's, behind one); nil when unknown.
    public let remoteAddress: SocketAddress?
    /// The CONNECT packet's payload, `{}` when it had none.
    public let auth: JSONObject
    /// The URI of the Engine.IO handshake request.
    public let url: String

    /// A handshake from its parts (the server builds it; tests and adapters may too).
    public init(headers: HTTPHeaders, query: [String: String], remoteAddress: SocketAddress?, auth: JSONObject, url: String) {
        self.headers = headers
        self.query = query
        self.remoteAddress = remoteAddress
        self.address = remoteAddress?.ipAddress ?? ""
        self.auth = auth
        self.url = url
    }
}
