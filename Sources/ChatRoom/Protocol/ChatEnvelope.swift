#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// What the server sends: the classic `{type, msg, time}` object plus extra fields that a
/// classic page ignores (docs/chat-protocol.md).
public struct ChatEnvelope: Codable, Sendable, Equatable {
    public enum Kind: Int, Codable, Sendable {
        case enter = 0
        case leave = 1
        case message = 2
        case welcome = 3
        case presence = 4
        case rename = 5
        case error = 6
    }

    public var type: Kind
    public var msg: String
    public var time: String
    public var ts: Int64
    public var room: String?
    public var user: String?
    /// The identity of `user` (decides "own message", whatever the names).
    public var uid: Int64?
    public var text: String?
    public var id: Int64?
    public var history: Bool?
    public var online: [String]?
    public var count: Int?
    public var you: String?
    public var previous: String?
    public var code: String?
    /// Welcome only: a newly issued identity token, for the client to keep and present.
    public var token: String?
    /// Welcome only: the longest message accepted, in characters.
    public var limit: Int?

    public init(type: Kind, msg: String, timestamp: Int64 = ChatClock.nowMilliseconds(), room: String? = nil) {
        self.type = type
        self.msg = msg
        self.ts = timestamp
        self.time = ChatClock.timeOfDay(milliseconds: timestamp)
        self.room = room
    }

    public static func message(_ stored: StoredMessage, history: Bool = false) -> ChatEnvelope {
        var envelope = ChatEnvelope(type: .message, msg: "\(stored.user): \(stored.text)", timestamp: stored.timestamp, room: stored.room)
        envelope.user = stored.user
        envelope.uid = stored.userID
        envelope.text = stored.text
        envelope.id = stored.id
        if history { envelope.history = true }
        return envelope
    }

    public static func error(_ error: ChatError) -> ChatEnvelope {
        var envelope = ChatEnvelope(type: .error, msg: error.message)
        envelope.code = error.code
        return envelope
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    /// The JSON text frame.
    public func json() -> String {
        // Encoding a struct of strings and numbers cannot fail.
        String(decoding: (try? Self.encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

/// The server's clock, formatted the classic way: local time of day `HH:mm:ss`.
public enum ChatClock {
    public static func nowMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    public static func timeOfDay(milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }
}
