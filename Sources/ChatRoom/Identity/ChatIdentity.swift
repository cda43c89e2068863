import Duplex

/// Who a member is, across reloads and restarts: an id the store issues (never reused),
/// and the name the store holds for it.
public struct ChatIdentity: Sendable, Equatable {
    public var id: Int64
    /// The chosen name; nil until one is chosen (the default name is shown).
    public var chosenName: String?
    /// True when the client keeps its token: its chosen name is then reserved for it,
    /// online or not. A classic client that presents no token holds its name only while
    /// it is online in a room.
    public var kept: Bool

    public init(id: Int64, chosenName: String? = nil, kept: Bool) {
        self.id = id
        self.chosenName = chosenName
        self.kept = kept
    }

    /// The name shown: the chosen one, else `User <id>` (unique, since ids are).
    public var name: String { chosenName ?? Self.defaultName(id) }

    public static func defaultName(_ id: Int64) -> String { "User \(id)" }

    /// `user 12` in any case: names of this form belong to the identity with that id.
    package static func defaultNameOwner(_ name: String) -> Int64? {
        let lowered = name.lowercased()
        guard lowered.hasPrefix("user "), let id = Int64(lowered.dropFirst(5)), id > 0, "\(id)" == lowered.dropFirst(5) else { return nil }
        return id
    }

    /// The key under which names are unique (case-insensitive).
    package static func nameKey(_ name: String) -> String { name.lowercased() }
}

/// The secret a client keeps to come back as the same identity: 32 random bytes,
/// hex-encoded. Stores keep only its digest, so a leaked database gives no tokens.
public enum IdentityToken {
    public static func generate() -> String {
        // Four draws of 64 bits (one system call each), not 32 of 8.
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for _ in 0..<4 { withUnsafeBytes(of: generator.next()) { bytes.append(contentsOf: $0) } }
        return hex(bytes)
    }

    /// The digest stored for a token (hex of SHA-1 over its text).
    public static func digest(_ token: String) -> String {
        hex(SHA1.digest(Array(token.utf8)))
    }

    /// A token as the server issues it: 64 lowercase hex digits. Anything else is not
    /// looked up (a forged token of another shape costs no store query).
    static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == 64 && token.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
