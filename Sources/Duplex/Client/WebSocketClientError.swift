import NIOCore
import NIOHTTP1
import NIOPosix
#if TLS
import NIOSSL
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a client could not open its WebSocket. Every failed opening handshake ends with one
/// of these (through `connect`'s throw, the error event and the message sequence).
public enum WebSocketClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URL cannot be used (the browser's SyntaxError).
    case invalidURL(String, String)
    /// The host name did not resolve.
    case dnsFailure(host: String, reason: String)
    /// Nothing listens on that port.
    case connectionRefused(host: String, port: Int)
    /// The TCP connection failed otherwise (unreachable network, reset...).
    case connectFailed(host: String, port: Int, reason: String)
    /// The opening handshake (TCP, TLS and HTTP) took longer than the connect timeout.
    case timeout(seconds: Double)
    /// The TLS handshake failed (untrusted certificate, wrong host name...).
    case tls(String)
    /// A wss:// URL, but this build of Duplex has no TLS: it is the package trait `TLS`
    /// (it compiles BoringSSL, so a build without it is minutes faster).
    case tlsUnavailable
    /// The server answered with a redirect; redirects are not followed.
    case redirect(status: Int, location: String?)
    /// The server answered with a status other than 101. `body` holds the start of its body.
    case unexpectedStatus(status: Int, reason: String, body: String)
    /// `Sec-WebSocket-Accept` is missing or does not match the key.
    case badAcceptKey(expected: String, received: String?)
    /// The 101 response breaks another rule: missing `Upgrade`/`Connection`, a subprotocol
    /// or extension that was not offered...
    case invalidResponse(String)
    /// The connection closed before the handshake completed.
    case connectionClosed
    /// `close()` was called before the connection opened.
    case aborted

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason): return "invalid WebSocket URL \(url): \(reason)"
        case .dnsFailure(let host, let reason): return "cannot resolve host \(host): \(reason)"
        case .connectionRefused(let host, let port): return "connection refused by \(host):\(port)"
        case .connectFailed(let host, let port, let reason): return "cannot connect to \(host):\(port): \(reason)"
        case .timeout(let seconds): return "opening handshake timed out after \(seconds) s"
        case .tls(let reason): return "TLS handshake failed: \(reason)"
        case .tlsUnavailable:
            return "wss:// needs TLS, and this build of Duplex has none: enable the package trait TLS (swift build --traits TLS, or traits: [\"TLS\"] on the Duplex dependency)"
        case .redirect(let status, let location):
            return "server answered \(status) redirect\(location.map { " to \($0)" } ?? ""); redirects are not followed"
        case .unexpectedStatus(let status, let reason, let body):
            let firstLine = body.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
            return "server answered \(status) \(reason) instead of 101 Switching Protocols" + (firstLine.isEmpty ? "" : ": \(firstLine)")
        case .badAcceptKey(let expected, let received):
            return "invalid Sec-WebSocket-Accept \(received.map { "\"\($0)\"" } ?? "(missing)"), expected \"\(expected)\""
        case .invalidResponse(let reason): return "invalid handshake response: \(reason)"
        case .connectionClosed: return "connection closed during the opening handshake"
        case .aborted: return "WebSocket closed before the connection was established"
        }
    }

    /// The HTTP status of a refused handshake, if that is what happened.
    public var status: Int? {
        switch self {
        case .redirect(let status, _), .unexpectedStatus(let status, _, _): return status
        default: return nil
        }
    }

    /// Maps what the bootstrap or the pipeline reported to a client error.
    static func from(_ error: Error, url: WebSocketURL, timeout: TimeAmount) -> WebSocketClientError {
        if let error = error as? WebSocketClientError { return error }
        if let error = error as? NIOConnectionError {
            if error.connectionErrors.isEmpty {
                let reason = (error.dnsAError ?? error.dnsAAAAError).map { "\($0)" } ?? "no address found"
                return .dnsFailure(host: url.host, reason: reason)
            }
            if error.connectionErrors.contains(where: { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }) {
                return .connectionRefused(host: url.host, port: url.port)
            }
            return .connectFailed(host: url.host, port: url.port, reason: error.connectionErrors.map { "\($0.error)" }.joined(separator: "; "))
        }
        if let error = error as? IOError, error.errnoCode == ECONNREFUSED {
            return .connectionRefused(host: url.host, port: url.port)
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return .timeout(seconds: Double(timeout.nanoseconds) / 1e9)
        }
        #if TLS
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return .tls("\(error)")
        }
        #endif
        if error is HTTPParserError {
            return .invalidResponse("malformed HTTP response: \(error)")
        }
        return .connectFailed(host: url.host, port: url.port, reason: "\(error)")
    }
}
