import NIOCore

/// A middleware's refusal: the client gets CONNECT_ERROR `{"message":…,"data":…}`.
public struct SocketIOMiddlewareError: Error, Sendable, Equatable {
    /// The `message` of the CONNECT_ERROR: the client's `connect_error` sees it as `err.message`.
    public var message: String
    /// Extra details for the client (`err.data`); omitted when nil.
    public var data: JSONValue?

    /// A refusal with this message and optional data.
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
