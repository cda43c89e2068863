/// How a connection ended: the browser's `CloseEvent`.
public struct CloseEvent: Sendable, Equatable, CustomStringConvertible {
    /// The code from the peer's close frame; 1005 when it had none, 1006 when the TCP
    /// connection ended without one, or the code we failed the connection with.
    public var code: CloseCode
    /// The reason text of the close frame (UTF-8, at most 123 bytes); empty when there was none.
    public var reason: String
    /// Whether both close frames were exchanged before the TCP connection ended.
    public var wasClean: Bool

    public var description: String { "close \(code) \"\(reason)\" \(wasClean ? "clean" : "unclean")" }
}
