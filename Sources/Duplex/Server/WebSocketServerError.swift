import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a server could not start, said so that the person who started it knows what to do.
public enum WebSocketServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The port is outside 0...65535.
    case invalidPort(Int)
    /// Another process listens on the port.
    case addressInUse(host: String, port: Int)
    /// Binding failed for another reason (permission, unknown address...), in words.
    case cannotListen(host: String, port: Int, reason: String)
    /// TLS was asked for, but this build of Duplex has none: it is the package trait `TLS`.
    case tlsUnavailable

    public var description: String {
        switch self {
        case .invalidPort(let port):
            "invalid port \(port): use 0 (any free port) to 65535"
        case .addressInUse(let host, let port):
            "cannot listen on \(host):\(port): the port is already in use (is another server running? pick another with --port)"
        case .cannotListen(let host, let port, let reason):
            "cannot listen on \(host):\(port): \(reason)"
        case .tlsUnavailable:
            "TLS needs the package trait TLS, and this build of Duplex has none: build with --traits TLS (or traits: [\"TLS\"] on the Duplex dependency)"
        }
    }

    static func from(_ error: Error, host: String, port: Int) -> WebSocketServerError {
        let code = (error as? IOError)?.errnoCode
        if code == EADDRINUSE { return .addressInUse(host: host, port: port) }
        if code == EACCES { return .cannotListen(host: host, port: port, reason: "permission denied (ports below 1024 need privileges)") }
        return .cannotListen(host: host, port: port, reason: SocketErrorText.describe(error))
    }
}

/// A socket error as a short sentence (`connection refused`), without NIO's call details.
package enum SocketErrorText {
    package static func describe(_ error: Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
        if let error = error as? NIOConnectionError {
            if error.connectionErrors.isEmpty { return "the name did not resolve to an address" }
            let reasons = error.connectionErrors.map { describe($0.error) }
            return Array(Set(reasons)).sorted().joined(separator: "; ")
        }
        if let error = error as? SocketAddressError { return "invalid address (\(error))" }
        return "\(error)"
    }
}
