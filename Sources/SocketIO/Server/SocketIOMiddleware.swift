import NIOCore

/// A middleware's refusal: the client gets CONNECT_ERROR `{"message":…,"data":…}`.
public struct SocketIOMiddlewareError: Error, Sendable, Equatable {
    public var message: String
    public var data: JSONValue?

    public init(_ message: String, data: JSONValue? = nil) {
        self.message = message
        self.data = data
    }
}

/// A namespace middleware: runs for each connecting socket before it is connected; throw
/// (``SocketIOMiddlewareError`` for a message and data) to refuse it.
public enum SocketIOMiddleware: Sendable {
    /// Runs on the socket's event loop.
    case sync(@Sendable (SocketIOSocket) throws -> Void)
    /// Runs in a Task (for checks that await: a database, a token service).
    case async(@Sendable (SocketIOSocket) async throws -> Void)
}
