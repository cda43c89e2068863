import NIOCore

/// Limits and timeouts of one WebSocket connection, the same for servers and clients.
public struct WebSocketConfiguration: Sendable {
    /// Largest message accepted, after reassembly and decompression. Larger → close 1009.
    public var maxMessageSize: Int = 16 * 1024 * 1024
    /// Most frames one message may be split into. More → close 1009. (Autobahn's
    /// 9.3.x sends 4 MiB in 64-byte fragments: 65,536 frames.)
    public var maxFragments: Int = 131_072
    /// How long the peer gets to answer our close frame before the TCP connection is dropped.
    public var closeTimeout: TimeAmount = .seconds(5)
    /// The heartbeat: a ping is sent this often, and a peer that has sent nothing at all
    /// (no pong, no data) for a whole interval after a ping is dropped as dead. 30 s keeps
    /// connections alive behind proxies with 60 s idle limits (nginx's default). nil: off.
    public var pingInterval: TimeAmount? = .seconds(30)
    /// The outbound high-water mark: bytes queued for the socket but not yet written.
    public var maxBufferedAmount: Int = 16 * 1024 * 1024
    /// What happens to a send that finds more than `maxBufferedAmount` bytes queued.
    public var backpressurePolicy: BackpressurePolicy = .close
    /// permessage-deflate (RFC 7692): nil disables it. A server accepts clients' offers with
    /// these options (off by default: compression costs CPU per message, and compressing
    /// secrets together with attacker-chosen data over TLS can leak them, as in CRIME/BREACH).
    /// ``WebSocket`` clients offer it by default. `.shared` (the default options) keeps no
    /// zlib state on idle connections; `.contextTakeover` is the opt-in dedicated mode.
    public var compression: PerMessageDeflateOptions?

    /// What to do with a peer that does not read fast enough.
    public enum BackpressurePolicy: Sendable {
        /// Drop the connection (reported with close code 1008, policy violation): one slow
        /// reader cannot hold the server's memory. The default.
        case close
        /// Discard the message and keep the connection; `droppedMessages` counts them.
        case dropMessages
    }

    /// The defaults listed on each property: 16 MiB messages, a 30 s heartbeat, a 5 s close
    /// timeout, a 16 MiB outbound bound that closes slow readers, no compression.
    public init() {}
}

