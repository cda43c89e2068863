import Duplex
import Logging
import NIOCore
import NIOHTTP1

/// The two Engine.IO transports.
public enum EngineIOTransport: String, Sendable, Hashable, CaseIterable {
    /// HTTP long-polling: a GET held open for the server's packets, a POST for the client's.
    /// Works through any proxy; the first transport of a default client.
    case polling
    /// A WebSocket, directly or after upgrading a polling session.
    case websocket
}

/// What an Engine.IO server needs to know about a request before it opens a session
/// (the `allowRequest` hook gets it).
public struct EngineIORequestInfo: Sendable {
    /// The request method (`GET` for a handshake or a poll).
    public var method: HTTPMethod
    /// The request target as sent, with the query (`/socket.io/?EIO=4&transport=polling`).
    public var uri: String
    /// The path without the query.
    public var path: String
    /// The percent-decoded query parameters (`EIO`, `transport`, and the client's own).
    public var query: [String: String]
    /// The request headers (`Origin`, cookies, `Authorization`...).
    public var headers: HTTPHeaders
    /// The peer's address (a proxy's, behind one); nil when unknown.
    public var remoteAddress: SocketAddress?
    /// The transport asked for (`polling` for an HTTP handshake, `websocket` for a WebSocket).
    public var transport: EngineIOTransport

    /// A request description, as the server builds it for ``EngineIOOptions/allowRequest``.
    public init(method: HTTPMethod, uri: String, path: String, query: [String: String], headers: HTTPHeaders,
                remoteAddress: SocketAddress?, transport: EngineIOTransport) {
        self.method = method
        self.uri = uri
        self.path = path
        self.query = query
        self.headers = headers
        self.remoteAddress = remoteAddress
        self.transport = transport
    }
}

/// The answer of the `allowRequest` hook.
public enum EngineIOAllowDecision: Sendable, Equatable {
    /// Open the session.
    case allow
    /// Refuse the handshake: HTTP 403 `{"code":4,"message":…}` (`Forbidden` when nil),
    /// as the reference server does.
    case deny(message: String?)
}

/// Cross-origin resource sharing for the HTTP long-polling transport (browsers only).
public struct EngineIOCORSOptions: Sendable, Equatable {
    /// Which origins get CORS headers.
    public enum Origin: Sendable, Equatable {
        /// `Access-Control-Allow-Origin: *` (with credentials: the request's origin, as `*`
        /// is not allowed with credentials).
        case any
        /// Only these origins (exact match, e.g. `https://example.com`); others get no
        /// CORS headers, so the browser blocks the response.
        case list([String])
    }

    /// The origins allowed to read polling responses (`.any` by default).
    public var origin: Origin
    /// `Access-Control-Allow-Credentials: true` (cookies, HTTP authentication).
    public var credentials: Bool
    /// `Access-Control-Allow-Methods` of preflight answers (`GET` and `POST` by default).
    public var methods: [String]
    /// Headers allowed in requests; nil reflects what the preflight asks for.
    public var allowedHeaders: [String]?
    /// Seconds a preflight answer may be cached.
    public var maxAge: Int?

    /// CORS settings; the defaults allow any origin, without credentials.
    public init(origin: Origin = .any, credentials: Bool = false, methods: [String] = ["GET", "POST"],
                allowedHeaders: [String]? = nil, maxAge: Int? = nil) {
        self.origin = origin
        self.credentials = credentials
        self.methods = methods
        self.allowedHeaders = allowedHeaders
        self.maxAge = maxAge
    }
}

/// The options of an Engine.IO server; the defaults are the reference server's.
public struct EngineIOOptions: Sendable {
    /// The path the server answers on (prefix match), `/engine.io/` for a bare Engine.IO
    /// server; a Socket.IO server uses `/socket.io/`.
    public var path: String = "/engine.io/"
    /// How often the server pings (advertised in the handshake, in milliseconds).
    public var pingInterval: TimeAmount = .milliseconds(25_000)
    /// How long after a ping the client has to answer before the session is closed.
    public var pingTimeout: TimeAmount = .milliseconds(20_000)
    /// The largest message (WebSocket) or polling body accepted, in bytes; advertised as
    /// `maxPayload`.
    public var maxHttpBufferSize: Int = 1_000_000
    /// Transports accepted for a handshake.
    public var transports: Set<EngineIOTransport> = [.polling, .websocket]
    /// Whether a polling session may upgrade to a WebSocket.
    public var allowUpgrades = true
    /// How long an upgrade may take (probe to `5`) before the WebSocket is dropped.
    public var upgradeTimeout: TimeAmount = .milliseconds(10_000)
    /// CORS for the polling transport; nil sends no CORS headers (the reference default).
    public var cors: EngineIOCORSOptions?
    /// Decides about each handshake (not about later requests of a session).
    public var allowRequest: (@Sendable (EngineIORequestInfo) -> EngineIOAllowDecision)?
    /// permessage-deflate for WebSockets, passed to the WebSocket server (nil: off).
    public var compression: PerMessageDeflateOptions?
    /// The outbound bytes one session may have queued for a client that has not taken them
    /// yet (the polling outbox: a client that stops polling but keeps the session alive).
    /// Each queued packet counts as its polling encoding plus 32 bytes. Over it, the session is closed
    /// (reason `transport error`) and a warning is logged. On a WebSocket the WebSocket's own
    /// limit applies instead (`WebSocketConfiguration.maxBufferedAmount`, 16 MiB by default);
    /// this default is the same, so a session has one budget whatever its transport.
    /// Not in the reference server (its buffers grow without a limit).
    public var maxBufferedBytes: Int = 16 * 1024 * 1024
    /// The most packets in one long-polling response; the rest wait for the next poll, which
    /// the client sends at once. 16 because python-engineio's clients refuse a payload of
    /// more (`Too many packets in payload`, and they drop the session); the reference server
    /// sends all it has, and its own clients take any number. A broadcast's packets (an
    /// event and its attachments) are never split. A polling client then receives at most
    /// this many packets per round trip (16 every 100 ms is 160 a second): raise it when
    /// only the reference's clients poll and some take more than that.
    public var maxPacketsPerPoll: Int = 16
    /// The most sessions open at once, all transports together (a WebSocket server's
    /// `maxConnections` counts only WebSockets: polling sessions have no connection of their
    /// own). A handshake beyond it is refused: HTTP 503 with
    /// `{"code":3,"message":"Too many sessions"}` for polling, a refused upgrade (503) for a
    /// WebSocket. The default matches `WebSocketServer.Configuration.maxConnections`.
    /// Not in the reference server.
    public var maxSessions: Int = 100_000
    /// The most sessions open at once from one remote IP address (generous: many users may
    /// share an address behind NAT); handshakes beyond it are refused like those beyond
    /// ``maxSessions``. Requests with no known address are not counted per address.
    /// Not in the reference server.
    public var maxSessionsPerAddress: Int = 5_000
    /// Where refusals and sessions closed for a limit are logged.
    public var logger = Logger(label: "duplex.engine.io")

    /// The reference server's defaults, plus Duplex's bounds (16 MiB per session,
    /// 100,000 sessions, 5,000 per address).
    public init() {}

    /// The path normalized without its trailing slash (`/socket.io`), for matching.
    package var basePath: String {
        var path = path.hasPrefix("/") ? path : "/" + path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// Whether a request path belongs to this server.
    package func matches(path requestPath: String) -> Bool {
        let base = basePath
        return requestPath == base || requestPath.hasPrefix(base + "/")
    }

    var pingIntervalMilliseconds: Int { Int(pingInterval.nanoseconds / 1_000_000) }
    var pingTimeoutMilliseconds: Int { Int(pingTimeout.nanoseconds / 1_000_000) }
}
