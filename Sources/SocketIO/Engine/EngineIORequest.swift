import Duplex
import NIOCore
import NIOHTTP1

/// The error codes of the reference server, sent as `{"code":N,"message":"…"}`.
public enum EngineIOErrorCode: Int, Sendable, Hashable {
    /// `transport` is missing, unknown or disabled in ``EngineIOOptions/transports``.
    case unknownTransport = 0
    /// The `sid` names no open session (expired, closed, or never issued).
    case unknownSessionID = 1
    /// A handshake that is not a GET.
    case badHandshakeMethod = 2
    /// Anything else malformed: a transport mismatch, a second concurrent poll, a bad body.
    case badRequest = 3
    /// Refused by ``EngineIOOptions/allowRequest``.
    case forbidden = 4
    /// `EIO` is not 4 (Engine.IO v3 clients are not supported).
    case unsupportedProtocolVersion = 5

    /// The reference server's message for the code, e.g. `Session ID unknown`.
    public var message: String {
        switch self {
        case .unknownTransport: "Transport unknown"
        case .unknownSessionID: "Session ID unknown"
        case .badHandshakeMethod: "Bad handshake method"
        case .badRequest: "Bad request"
        case .forbidden: "Forbidden"
        case .unsupportedProtocolVersion: "Unsupported protocol version"
        }
    }

    /// 403 for `forbidden`, 400 for everything else, as the reference server answers.
    public var status: HTTPResponseStatus { self == .forbidden ? .forbidden : .badRequest }
}

/// A refused request: the code and the message for the JSON body.
public struct EngineIORequestError: Error, Sendable, Hashable {
    /// The error code sent in the JSON body.
    public var code: EngineIOErrorCode
    /// The message sent in the JSON body; the code's standard one unless the
    /// `allowRequest` hook gave its own.
    public var message: String

    /// A refusal with this code and, when nil, the code's standard message.
    public init(_ code: EngineIOErrorCode, message: String? = nil) {
        self.code = code
        self.message = message ?? code.message
    }

    /// `{"code":N,"message":"…"}`.
    public var json: String {
        let value: JSONValue = ["code": .number(Double(code.rawValue)), "message": .string(message)]
        return value.serialized()
    }
}

/// Where an Engine.IO request goes, decided from its method and query alone (pure, so the
/// rules are unit-tested without a socket). The order of the checks is the reference
/// server's: transport, then sid, then handshake method, then the `allowRequest` hook,
/// then the protocol version.
public enum EngineIORoute: Sendable, Equatable {
    /// A CORS preflight (OPTIONS with CORS configured): 204 with the CORS headers.
    case preflight
    /// A new session on this transport.
    case handshake(EngineIOTransport)
    /// A request of the existing session `sid` on this transport.
    case session(sid: String, transport: EngineIOTransport)
    /// Refused.
    case error(EngineIORequestError)

    /// Routes a request. `isWebSocket` tells a WebSocket handshake from a plain request.
    public static func route(
        method: HTTPMethod,
        query: [String: String],
        isWebSocket: Bool,
        options: EngineIOOptions,
        allow: (() -> EngineIOAllowDecision)? = nil
    ) -> EngineIORoute {
        if method == .OPTIONS && !isWebSocket && options.cors != nil {
            return .preflight
        }
        guard let name = query["transport"], let transport = EngineIOTransport(rawValue: name),
              options.transports.contains(transport)
        else {
            return .error(EngineIORequestError(.unknownTransport))
        }
        if let sid = query["sid"] {
            if transport == .websocket && !options.allowUpgrades {
                return .error(EngineIORequestError(.badRequest))
            }
            return .session(sid: sid, transport: transport)
        }
        guard method == .GET else {
            return .error(EngineIORequestError(.badHandshakeMethod))
        }
        if transport == .websocket && !isWebSocket {
            return .error(EngineIORequestError(.badRequest))
        }
        if let allow, case .deny(let message) = allow() {
            return .error(EngineIORequestError(.forbidden, message: message))
        }
        guard query["EIO"] == "4" else {
            return .error(EngineIORequestError(.unsupportedProtocolVersion))
        }
        return .handshake(transport)
    }
}

/// The CORS headers for one request (pure).
enum EngineIOCORS {
    static func headers(for requestHeaders: HTTPHeaders, options: EngineIOCORSOptions, preflight: Bool) -> HTTPHeaders {
        var headers = HTTPHeaders()
        let origin = requestHeaders.first(name: "origin")
        switch options.origin {
        case .any:
            if options.credentials, let origin {
                headers.add(name: "Access-Control-Allow-Origin", value: origin)
                headers.add(name: "Vary", value: "Origin")
            } else {
                headers.add(name: "Access-Control-Allow-Origin", value: "*")
            }
        case .list(let allowed):
            guard let origin, allowed.contains(origin) else { return headers }
            headers.add(name: "Access-Control-Allow-Origin", value: origin)
            headers.add(name: "Vary", value: "Origin")
        }
        if options.credentials {
            headers.add(name: "Access-Control-Allow-Credentials", value: "true")
        }
        if preflight {
            headers.add(name: "Access-Control-Allow-Methods", value: options.methods.joined(separator: ","))
            if let allowedHeaders = options.allowedHeaders {
                headers.add(name: "Access-Control-Allow-Headers", value: allowedHeaders.joined(separator: ","))
            } else if let requested = requestHeaders.first(name: "access-control-request-headers") {
                headers.add(name: "Access-Control-Allow-Headers", value: requested)
                headers.add(name: "Vary", value: "Access-Control-Request-Headers")
            }
            if let maxAge = options.maxAge {
                headers.add(name: "Access-Control-Max-Age", value: "\(maxAge)")
            }
        }
        return headers
    }
}

