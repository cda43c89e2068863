import Duplex
import NIOCore
import NIOHTTP1

/// The error codes of the reference server, sent as `{"code":N,"message":"…"}`.
public enum EngineIOErrorCode: Int, Sendable, Hashable {
    case unknownTransport = 0
    case unknownSessionID = 1
    case badHandshakeMethod = 2
    case badRequest = 3
    case forbidden = 4
    case unsupportedProtocolVersion = 5

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
    public var code: EngineIOErrorCode
    public var message: String

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

