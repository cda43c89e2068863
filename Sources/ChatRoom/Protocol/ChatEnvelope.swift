#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// What the server sends: the classic `{type, msg, time}` object plus extra fields that a
/// classic page ignores (docs/chat-protocol.md).
public struct ChatEnvelope: Codable, Sendable, Equatable {
    /// The `type` number of an envelope; 0–2 are the classic demo's, 3–6 are Duplex's additions.
    public enum Kind: Int, Codable, Sendable {
        /// Someone entered the room (`msg`: "User 1 entered").
        case enter = 0
        /// Someone left the room.
        case leave = 1
        /// A chat message (`msg`: "name: text"; `user` and `text` apart).
        case message = 2
        /// Only to the joining client, first: its name (`you`) and who is online.
        case welcome = 3
        /// Who is online now, coalesced over 200 ms (`count`; `online` in rooms of up to 200).
        case presence = 4
        /// Someone changed their nickname (`previous` is the old one).
        case rename = 5
        /// A refusal, only to the sender and never a disconnect (`code` says which).
        case error = 6
    }

    /// What happened.
    public var type: Kind
    /// The text to show as is, e.g. `User 1: hello` (a classic page shows only this).
    public var msg: String
    /// The server's local time of day, `HH:mm:ss`.
    public var time: String
    /// The same moment in milliseconds since 1970 (UTC), for clients that format time themselves.
    public var ts: Int64
    /// The room the event belongs to.
    public var room: String?
    /// The person's current display name (enter, leave, message, rename).
    public var user: String?
    /// The raw message text, without the `name: ` prefix (messages).
    public var text: String?
    /// The message's id in the history store, increasing per server (messages).
    public var id: Int64?
    /// `true` on messages replayed from the store when joining; absent otherwise.
    public var history: Bool?
    /// Names online in the room, by arrival (welcome; presence in rooms of up to 200).
    public var online: [String]?
    /// How many are online (presence).
    public var count: Int?
    /// The receiving client's own name (welcome).
    public var you: String?
    /// The old name (rename).
    public var previous: String?
    /// The machine-readable error code, e.g. `too_long` (errors).
    public var code: String?

    /// An envelope stamped with `timestamp` (now by default), `time` derived from it.
    public init(type: Kind, msg: String, timestamp: Int64 = ChatClock.nowMilliseconds(), room: String? = nil) {
        self.type = type
        self.msg = msg
        self.ts = timestamp
        self.time = ChatClock.timeOfDay(milliseconds: timestamp)
        self.room = room
    }

    /// The envelope of a stored chat message; `history` marks a replay on join.
    public static func message(_ stored: StoredMessage, history: Bool = false) -> ChatEnvelope {
        var envelope = ChatEnvelope(type: .message, msg: "\(stored.user): \(stored.text)", timestamp: stored.timestamp, room: stored.room)
        envelope.user = stored.user
        envelope.text = stored.text
        envelope.id = stored.id
        if history { envelope.history = true }
        return envelope
    }

    /// The type 6 envelope of a refusal, sent to the sender only.
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
    /// The wall-clock time in milliseconds since 1970 (UTC), as envelopes carry it in `ts`.
    public static func nowMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// The local time of day of a `ts` value, `HH:mm:ss`, as envelopes carry it in `time`.
    public static func timeOfDay(milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }
}
