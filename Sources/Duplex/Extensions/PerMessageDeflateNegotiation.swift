/// permessage-deflate (RFC 7692) settings of a server or client.
///
/// Two memory modes:
/// - ``Mode/shared`` (the default): no context takeover in either direction, and the zlib
///   streams are shared by all connections of an event loop (as uWebSockets'
///   `SHARED_COMPRESSOR`). An idle connection holds no zlib state at all, and a broadcast is
///   compressed once per event loop for all its recipients.
/// - ``Mode/contextTakeover``: each connection keeps its own deflate and inflate streams
///   between messages (better ratio on similar consecutive messages, ~300 KB per connection
///   with the default window and memory level, created at the connection's first compressed
///   message). Opt-in.
public struct PerMessageDeflateOptions: Sendable, Equatable {
    /// How zlib state is kept: shared per event loop, or per connection.
    public enum Mode: Sendable, Equatable {
        /// No context takeover, zlib streams shared per event loop: zero zlib state per idle connection.
        case shared
        /// Per-connection zlib streams kept between messages (where the peer agrees).
        case contextTakeover
    }

    /// Shared per-loop streams (no state on idle connections) or per-connection streams with
    /// context takeover.
    public var mode: Mode
    /// Messages smaller than this many bytes are sent uncompressed (compressing them costs
    /// more CPU than it saves bytes).
    public var minimumSize: Int
    /// zlib compression level, 1 (fastest) to 9 (smallest); -1 is zlib's default (6).
    public var compressionLevel: Int32
    /// zlib memory level, 1 to 9: the deflate state is about `2^(memoryLevel + 9)` bytes plus
    /// twice the window.
    public var memoryLevel: Int32
    /// The largest LZ77 window (base-2 log, 9–15) this side compresses with. A server
    /// announces a value below 15 as `server_max_window_bits`.
    public var maxWindowBits: Int
    /// Asks the peer to compress with at most this window (`client_max_window_bits` from a
    /// server, `server_max_window_bits` from a client), which shrinks the inflate state of
    /// ``Mode/contextTakeover``. nil: the peer chooses.
    public var peerMaxWindowBits: Int?

    /// Options with the given values; each is checked (a value outside its range stops the
    /// program, as a configuration error).
    public init(
        mode: Mode = .shared, minimumSize: Int = 1024, compressionLevel: Int32 = -1, memoryLevel: Int32 = 8,
        maxWindowBits: Int = 15, peerMaxWindowBits: Int? = nil
    ) {
        precondition((9...15).contains(maxWindowBits), "maxWindowBits must be 9...15")
        precondition(peerMaxWindowBits.map { (8...15).contains($0) } ?? true, "peerMaxWindowBits must be 8...15")
        precondition((-1...9).contains(compressionLevel), "compressionLevel must be -1...9")
        precondition((1...9).contains(memoryLevel), "memoryLevel must be 1...9")
        self.mode = mode
        self.minimumSize = minimumSize
        self.compressionLevel = compressionLevel
        self.memoryLevel = memoryLevel
        self.maxWindowBits = maxWindowBits
        self.peerMaxWindowBits = peerMaxWindowBits
    }

    /// The default: shared per-event-loop streams, no context takeover.
    public static var shared: Self { .init() }
    /// Dedicated per-connection streams with context takeover.
    public static var contextTakeover: Self { .init(mode: .contextTakeover) }
}

/// The parameters of one permessage-deflate offer or response (RFC 7692 §7.1).
struct PerMessageDeflateParameters: Sendable, Equatable {
    var serverNoContextTakeover = false
    var clientNoContextTakeover = false
    /// `server_max_window_bits=N`; nil when absent.
    var serverMaxWindowBits: Int?
    /// Whether `client_max_window_bits` is present (in an offer it may have no value).
    var clientMaxWindowBitsPresent = false
    /// The value of `client_max_window_bits`, when it has one.
    var clientMaxWindowBits: Int?

    init() {}

    static let name = "permessage-deflate"

    /// Reads the parameters of a permessage-deflate element. Unknown or repeated parameters
    /// and invalid values make it invalid (nil): a server declines such an offer, a client
    /// fails the connection on such a response. `isResponse`: `client_max_window_bits`
    /// needs a value.
    static func parse(_ element: WebSocketExtensionOffer, isResponse: Bool) -> PerMessageDeflateParameters? {
        var p = PerMessageDeflateParameters()
        var seen = Set<String>()
        for (name, value) in element.parameters {
            let key = name.lowercased()
            guard seen.insert(key).inserted else { return nil }
            switch key {
            case "server_no_context_takeover":
                guard value == nil else { return nil }
                p.serverNoContextTakeover = true
            case "client_no_context_takeover":
                guard value == nil else { return nil }
                p.clientNoContextTakeover = true
            case "server_max_window_bits":
                guard let value, let bits = windowBits(value) else { return nil }
                p.serverMaxWindowBits = bits
            case "client_max_window_bits":
                p.clientMaxWindowBitsPresent = true
                if let value {
                    guard let bits = windowBits(value) else { return nil }
                    p.clientMaxWindowBits = bits
                } else if isResponse {
                    return nil
                }
            default:
                return nil
            }
        }
        return p
    }

    /// A window size parameter: a decimal 8 to 15 without leading zeros.
    static func windowBits(_ s: String) -> Int? {
        guard let first = s.utf8.first, first != UInt8(ascii: "0"), s.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let n = Int(s), (8...15).contains(n) else { return nil }
        return n
    }

    /// The header form of these parameters.
    var headerValue: String {
        var out = Self.name
        if serverNoContextTakeover { out += "; server_no_context_takeover" }
        if clientNoContextTakeover { out += "; client_no_context_takeover" }
        if let serverMaxWindowBits { out += "; server_max_window_bits=\(serverMaxWindowBits)" }
        if clientMaxWindowBitsPresent {
            out += "; client_max_window_bits"
            if let clientMaxWindowBits { out += "=\(clientMaxWindowBits)" }
        }
        return out
    }
}

/// What one side of a connection does after a successful negotiation.
struct DeflateAgreement: Sendable, Equatable {
    /// Our compressor starts afresh for every message.
    var sendNoContextTakeover: Bool
    /// The window our compressor may use; 8 cannot be produced by zlib's raw deflate, so at
    /// 8 messages go out uncompressed (allowed: compression is per message).
    var sendWindowBits: Int
    /// The peer starts afresh for every message: our inflate stream can be shared.
    var receiveNoContextTakeover: Bool
    /// The largest window the peer may use.
    var receiveWindowBits: Int
}

/// The negotiation rules (RFC 7692 §7.1) for both roles. Pure functions.
enum PerMessageDeflateNegotiation {
    /// Server side: picks the first acceptable permessage-deflate offer (offers with unknown,
    /// repeated or invalid parameters are declined, as the RFC requires) and returns the
    /// response header value and what the server does. nil: no offer accepted.
    static func accept(offers: [WebSocketExtensionOffer], options: PerMessageDeflateOptions)
        -> (response: String, agreement: DeflateAgreement)?
    {
        for element in offers where element.name.lowercased() == PerMessageDeflateParameters.name {
            guard let offer = PerMessageDeflateParameters.parse(element, isResponse: false) else { continue }
            var response = PerMessageDeflateParameters()
            let shared = options.mode == .shared
            // A server may always add both no-context-takeover parameters; the shared mode
            // needs them so neither side keeps a window between messages.
            response.serverNoContextTakeover = offer.serverNoContextTakeover || shared
            response.clientNoContextTakeover = offer.clientNoContextTakeover || shared
            var serverBits = options.maxWindowBits
            if let limit = offer.serverMaxWindowBits { serverBits = min(serverBits, limit) }
            if offer.serverMaxWindowBits != nil || serverBits < 15 { response.serverMaxWindowBits = serverBits }
            var clientBits = offer.clientMaxWindowBits ?? 15
            if offer.clientMaxWindowBitsPresent, let wanted = options.peerMaxWindowBits, wanted < clientBits {
                clientBits = wanted
                response.clientMaxWindowBitsPresent = true
                response.clientMaxWindowBits = wanted
            }
            let agreement = DeflateAgreement(
                sendNoContextTakeover: response.serverNoContextTakeover || shared,
                sendWindowBits: serverBits,
                receiveNoContextTakeover: response.clientNoContextTakeover,
                receiveWindowBits: clientBits
            )
            return (response.headerValue, agreement)
        }
        return nil
    }

    /// Client side: the offer to send.
    static func offer(options: PerMessageDeflateOptions) -> String {
        var offer = PerMessageDeflateParameters()
        offer.clientMaxWindowBitsPresent = true
        if options.maxWindowBits < 15 { offer.clientMaxWindowBits = options.maxWindowBits }
        if options.mode == .shared {
            offer.serverNoContextTakeover = true
            offer.clientNoContextTakeover = true
        }
        if let wanted = options.peerMaxWindowBits, wanted < 15 { offer.serverMaxWindowBits = wanted }
        return offer.headerValue
    }

    struct ResponseError: Error, Sendable, Equatable, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    /// Client side: checks the server's `Sec-WebSocket-Extensions` against what the client
    /// offered. nil: no extension in use. Throws when the response must fail the connection
    /// (an extension that was not offered, permessage-deflate twice, invalid parameters, a
    /// window over the one the client asked for).
    static func checkResponse(_ headerValues: [String], options: PerMessageDeflateOptions?) throws(ResponseError) -> DeflateAgreement? {
        let elements: [WebSocketExtensionOffer]
        do {
            elements = try ExtensionHeader.parse(headerValues)
        } catch {
            throw ResponseError(reason: error.description)
        }
        guard !elements.isEmpty else { return nil }
        guard let options else {
            throw ResponseError(reason: "server accepted extension \(elements[0].name), which was not offered")
        }
        guard elements.count == 1, elements[0].name.lowercased() == PerMessageDeflateParameters.name else {
            let other = elements.first { $0.name.lowercased() != PerMessageDeflateParameters.name }?.name ?? PerMessageDeflateParameters.name
            throw ResponseError(reason: elements.count > 1 && other == PerMessageDeflateParameters.name
                                ? "server accepted permessage-deflate more than once"
                                : "server accepted extension \(other), which was not offered")
        }
        guard let response = PerMessageDeflateParameters.parse(elements[0], isResponse: true) else {
            throw ResponseError(reason: "invalid permessage-deflate response: \(elements[0])")
        }
        // The client offered `client_max_window_bits`, so the server may limit our window.
        let sendBits = min(options.maxWindowBits, response.clientMaxWindowBits ?? 15)
        if let wanted = options.peerMaxWindowBits, wanted < 15 {
            guard let bits = response.serverMaxWindowBits, bits <= wanted else {
                throw ResponseError(reason: "server_max_window_bits missing or above the \(wanted) offered")
            }
        }
        return DeflateAgreement(
            sendNoContextTakeover: response.clientNoContextTakeover || options.mode == .shared,
            sendWindowBits: sendBits,
            receiveNoContextTakeover: response.serverNoContextTakeover,
            receiveWindowBits: response.serverMaxWindowBits ?? 15
        )
    }
}
