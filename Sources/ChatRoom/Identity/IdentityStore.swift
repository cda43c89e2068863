import NIOCore

/// Where identities live (the chat's store: SQLite today). The store decides who holds a
/// name, so that names stay unique however many servers share it.
public protocol IdentityStore: Sendable {
    /// The identity whose token has this digest; nil for an unknown token. Marks it kept
    /// (its client presents its token, so it keeps it).
    func identity(tokenDigest: String) -> EventLoopFuture<ChatIdentity?>
    /// A new identity for a token with this digest, with the default name.
    func createIdentity(tokenDigest: String, kept: Bool) -> EventLoopFuture<ChatIdentity>
    /// Gives `name` to identity `id` unless a kept identity other than `id` holds it (or
    /// it is another identity's default name); true when granted.
    func claim(name: String, for id: Int64) -> EventLoopFuture<Bool>
}
