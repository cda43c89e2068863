import NIOCore
import NIOHTTP1

/// What the client sent when it connected to a namespace.
public struct SocketIOHandshake: Sendable {
    public let headers: HTTPHeaders
    public let query: [String: String]
    /// The client's IP address (`""` when unknown).
    public let address: String
    public let remoteAddress: SocketAddress?
    /// The CONNECT packet's payload, `{}` when it had none.
    public let auth: JSONObject
    /// The URI of the Engine.IO handshake request.
    public let url: String

    public init(headers: HTTPHeaders, query: [String: String], remoteAddress: SocketAddress?, auth: JSONObject, url: String) {
        self.headers = headers
        self.query = query
        self.remoteAddress = remoteAddress
        self.address = remoteAddress?.ipAddress ?? ""
        self.auth = auth
        self.url = url
    }
}
