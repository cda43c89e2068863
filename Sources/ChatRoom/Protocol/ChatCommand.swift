import Foundation

/// What a client asks for: a plain text frame is a message; a frame starting with `{`
/// is a JSON command (docs/chat-protocol.md).
public enum ChatCommand: Equatable, Sendable {
    case say(String)
    case nick(String)
    case join(String)

    private struct Wire: Decodable {
        var cmd: String
        var text: String?
        var name: String?
        var room: String?
    }

    public static func parse(_ frame: String) -> Result<ChatCommand, ChatError> {
        guard frame.utf8.first(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) == UInt8(ascii: "{") else {
            return .success(.say(frame))
        }
        guard let wire = try? JSONDecoder().decode(Wire.self, from: Data(frame.utf8)) else {
            return .failure(.badCommand("not a JSON command object with a \"cmd\" field"))
        }
        switch wire.cmd {
        case "say":
            guard let text = wire.text else { return .failure(.badCommand("\"say\" needs a \"text\" field")) }
            return .success(.say(text))
        case "nick":
            guard let name = wire.name else { return .failure(.badCommand("\"nick\" needs a \"name\" field")) }
            return .success(.nick(name))
        case "join":
            guard let room = wire.room else { return .failure(.badCommand("\"join\" needs a \"room\" field")) }
            return .success(.join(room))
        default:
            return .failure(.badCommand("unknown command \"\(wire.cmd)\" (known: say, nick, join)"))
        }
    }
}

/// A refusal sent to the sender only (type 6), never a disconnect.
public struct ChatError: Error, Equatable, Sendable {
    public var code: String
    public var message: String

    public static func tooLong(_ limit: Int) -> ChatError { ChatError(code: "too_long", message: "Message too long (max \(limit) characters)") }
    public static let empty = ChatError(code: "empty", message: "Message is empty")
    public static func rateLimited(_ count: Int, _ seconds: Int) -> ChatError {
        ChatError(code: "rate_limited", message: "Too many messages: at most \(count) per \(seconds) s, slow down")
    }
    public static func badCommand(_ detail: String) -> ChatError { ChatError(code: "bad_command", message: "Invalid command: \(detail)") }
    public static func badNickname(_ detail: String) -> ChatError { ChatError(code: "bad_nickname", message: "Invalid nickname: \(detail)") }
    public static func nicknameTaken(_ name: String) -> ChatError { ChatError(code: "nickname_taken", message: "Nickname \"\(name)\" is already used in this room") }
    public static func badRoom(_ detail: String) -> ChatError { ChatError(code: "bad_room", message: "Invalid room: \(detail)") }
    /// The server is at capacity: the message was not sent (the queue is bounded, never grown).
    public static let overloaded = ChatError(code: "overloaded", message: "The server is busy: your message was not sent, try again in a moment")
    public static let storeFailed = ChatError(code: "unavailable", message: "Your message could not be stored and was not sent, try again")
}
