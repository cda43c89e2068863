import NIOCore

/// An event from a client, as handlers get it: its name, its arguments, the acknowledgement
/// callback when the client asked for one, and the socket it came from.
public struct SocketIOEvent: Sendable {
    /// The event name, the first element of the EVENT packet's array.
    public let name: String
    /// The arguments after the name (binary ones as `.binary`).
    public let arguments: [JSONValue]
    /// Present when the client asked for an acknowledgement.
    public let ack: SocketIOAck?
    /// The socket the event came from: reply, join rooms or broadcast to others through it.
    public let socket: SocketIOSocket

    /// The argument at `index` decoded into a `Decodable` type.
    public func decode<T: Decodable>(_ type: T.Type = T.self, at index: Int = 0) throws -> T {
        guard arguments.indices.contains(index) else {
            throw DecodingError.valueNotFound(T.self, .init(codingPath: [], debugDescription: "event \"\(name)\" has no argument \(index)"))
        }
        return try arguments[index].decode(as: T.self)
    }
}
