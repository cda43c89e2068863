import Foundation

/// What a client asks for: a plain text frame is a message; a frame starting with `{`
/// is a JSON command (docs/chat-protocol.md).
public enum ChatCommand: Equatable, Sendable {
    /// A chat message: a plain text frame, or `{"cmd":"say","text":…}`.
    case say(String)
    /// Set one's nickname: `{"cmd":"nick","name":…}` (checked by the room: length, uniqueness).
    case nick(String)
    /// Move to another room: `{"cmd":"join","room":…}`.
    case join(String)

    private struct Wire: Decodable {
        var cmd: String
        var text: String?
        var name: String?
        var room: String?
    }

    /// Reads a client's text frame: JSON commands when it starts with `{`, a message
    /// otherwise; a malformed or unknown command is a `bad_command` error.
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
    /// The machine-readable code sent in the envelope's `code` (`too_long`, `rate_limited`...).
    public var code: String
    /// The sentence shown to the user, sent as the envelope's `msg`.
    public var message: String

    /// A message over the length limit (`limit` characters after trimming).
    public static func tooLong(_ limit: Int) -> ChatError { ChatError(code: "too_long", message: "Message too long (max \(limit) characters)") }
    /// A message that is empty once trimmed.
    public static let empty = ChatError(code: "empty", message: "Message is empty")
    /// More than `count` frames within `seconds` from one connection; the frame is dropped.
    public static func rateLimited(_ count: Int, _ seconds: Int) -> ChatError {
        ChatError(code: "rate_limited", message: "Too many messages: at most \(count) per \(seconds) s, slow down")
    }
    /// A frame that starts with `{` but is not a valid command, or a binary frame.
    public static func badCommand(_ detail: String) -> ChatError { ChatError(code: "bad_command", message: "Invalid command: \(detail)") }
    /// A nickname that breaks the rules (1–32 characters, no control characters).
    public static func badNickname(_ detail: String) -> ChatError { ChatError(code: "bad_nickname", message: "Invalid nickname: \(detail)") }
    /// A nickname someone else in the room already uses (compared case-insensitively).
    public static func nicknameTaken(_ name: String) -> ChatError { ChatError(code: "nickname_taken", message: "Nickname \"\(name)\" is already used in this room") }
    /// A room name that breaks the rules (1–32 letters, digits, `-`, `_`, `.`).
    public static func badRoom(_ detail: String) -> ChatError { ChatError(code: "bad_room", message: "Invalid room: \(detail)") }
    /// The server is at capacity: the message was not sent (the queue is bounded, never grown).
    public static let overloaded = ChatError(code: "overloaded", message: "The server is busy: your message was not sent, try again in a moment")
    public static let storeFailed = ChatError(code: "unavailable", message: "Your message could not be stored and was not sent, try again")
}
