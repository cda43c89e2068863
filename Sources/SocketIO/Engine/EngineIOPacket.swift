import NIOCore

/// The Engine.IO v4 packet types, with their wire digits.
public enum EngineIOPacketType: UInt8, Sendable, Hashable, CaseIterable {
    /// `0`: the server opens a session (with the handshake JSON).
    case open = 0
    /// `1`: either side closes the session.
    case close = 1
    /// `2`: the server's heartbeat (or the client's `probe` during an upgrade).
    case ping = 2
    /// `3`: the answer to a ping.
    case pong = 3
    /// `4`: application data (a Socket.IO packet), text or binary.
    case message = 4
    /// `5`: the client switches the session to the probed WebSocket.
    case upgrade = 5
    /// `6`: nothing; ends a pending poll during an upgrade.
    case noop = 6
}

/// Every way Engine.IO input can be malformed or refused. The reference
/// server closes the session on any of them.
public enum EngineIOParserError: Error, Sendable, Hashable {
    /// An empty packet (an empty frame, an empty body, or `\x1e\x1e`).
    case emptyPacket
    /// The first character is neither a digit 0–6 nor `b` (the byte is given).
    case invalidPacketType(UInt8)
    /// A `b` packet whose base64 does not decode.
    case invalidBase64
    /// Text that is not UTF-8.
    case invalidUTF8
    /// A payload larger than the limit (`maxHttpBufferSize`).
    case payloadTooLarge(size: Int, limit: Int)
    /// More packets in one polling payload than the limit.
    case tooManyPackets(limit: Int)
}

/// One Engine.IO packet: a type and its data, text or (for MESSAGE) binary.
///
/// Encoding: text is `<type digit><text>` (`4hello`, `2probe`, `6`); binary is
/// the raw bytes in a WebSocket binary frame, or `b<base64>` over polling.
public struct EngineIOPacket: Sendable, Hashable {
    /// The data of a packet.
    public enum Body: Sendable, Hashable {
        /// Text (every packet type may carry it).
        case text(String)
        /// Raw bytes; only MESSAGE packets carry them.
        case binary(ByteBuffer)
    }

    /// What the packet means.
    public var type: EngineIOPacketType
    /// The data: text for every type, binary for MESSAGE only.
    public var body: Body

    /// A packet of this type; text bodies are empty by default.
    public init(type: EngineIOPacketType, body: Body = .text("")) {
        self.type = type
        self.body = body
    }

    /// OPEN with the handshake JSON.
    public static func open(_ handshake: EngineIOHandshake) -> EngineIOPacket {
        EngineIOPacket(type: .open, body: .text(handshake.json))
    }

    /// CLOSE: ends the session.
    public static var close: EngineIOPacket { EngineIOPacket(type: .close) }

    /// PING; `"probe"` during an upgrade.
    public static func ping(_ text: String = "") -> EngineIOPacket {
        EngineIOPacket(type: .ping, body: .text(text))
    }

    /// PONG; `"probe"` to answer an upgrade probe.
    public static func pong(_ text: String = "") -> EngineIOPacket {
        EngineIOPacket(type: .pong, body: .text(text))
    }

    /// MESSAGE with text data.
    public static func message(_ text: String) -> EngineIOPacket {
        EngineIOPacket(type: .message, body: .text(text))
    }

    /// MESSAGE with binary data (a raw frame on WebSocket, `b<base64>` over polling).
    public static func message(_ bytes: ByteBuffer) -> EngineIOPacket {
        EngineIOPacket(type: .message, body: .binary(bytes))
    }

    /// UPGRADE: the client switches to the WebSocket it probed.
    public static var upgrade: EngineIOPacket { EngineIOPacket(type: .upgrade) }

    /// NOOP: releases a pending poll during an upgrade.
    public static var noop: EngineIOPacket { EngineIOPacket(type: .noop) }

    /// The text data, `nil` for binary.
    public var text: String? {
        if case .text(let text) = body { return text }
        return nil
    }

    /// The binary data, `nil` for text.
    public var binary: ByteBuffer? {
        if case .binary(let bytes) = body { return bytes }
        return nil
    }

    /// Whether the body is binary (a MESSAGE with bytes).
    public var isBinary: Bool { binary != nil }
}

// MARK: - Decoding

extension EngineIOPacket {
    /// Decodes one text-encoded packet: a WebSocket text frame, or one record
    /// of a polling payload. `b<base64>` is a binary MESSAGE (the reference
    /// server accepts it on both transports).
    public init(text: String) throws(EngineIOParserError) {
        var text = text
        let result = text.withUTF8 { bytes in
            Result { () throws(EngineIOParserError) -> EngineIOPacket in
                try EngineIOPacket.decode(bytes, validatedUTF8: true)
            }
        }
        self = try result.get()
    }

    /// Decodes one text-encoded packet from UTF-8 bytes (a WebSocket text
    /// frame's payload); the bytes are checked to be UTF-8.
    public init(textBytes: ByteBuffer) throws(EngineIOParserError) {
        let result = textBytes.withUnsafeReadableBytes { raw in
            Result { () throws(EngineIOParserError) -> EngineIOPacket in
                try EngineIOPacket.decode(raw.assumingMemoryBound(to: UInt8.self), validatedUTF8: false)
            }
        }
        self = try result.get()
    }

    /// A WebSocket binary frame: a binary MESSAGE, as is.
    public init(binaryFrame bytes: ByteBuffer) {
        self.init(type: .message, body: .binary(bytes))
    }

    /// Decodes one text-encoded packet from UTF-8 bytes.
    internal static func decode(_ bytes: UnsafeBufferPointer<UInt8>, validatedUTF8: Bool) throws(EngineIOParserError) -> EngineIOPacket {
        guard let first = bytes.first else { throw .emptyPacket }
        let rest = UnsafeBufferPointer(rebasing: bytes[1...])
        if first == UInt8(ascii: "b") {
            guard let decoded = Base64.decode(rest) else { throw .invalidBase64 }
            return EngineIOPacket(type: .message, body: .binary(decoded))
        }
        guard first >= UInt8(ascii: "0"), let type = EngineIOPacketType(rawValue: first &- UInt8(ascii: "0")) else {
            throw .invalidPacketType(first)
        }
        if !validatedUTF8 && !UTF8Validation.isValid(rest) {
            throw .invalidUTF8
        }
        return EngineIOPacket(type: type, body: .text(String(decoding: rest, as: UTF8.self)))
    }
}

// MARK: - Encoding

/// What to send in one WebSocket frame.
public enum EngineIOWebSocketFrame: Sendable, Hashable {
    /// A text frame.
    case text(String)
    /// A binary frame (binary MESSAGE data, as is).
    case binary(ByteBuffer)
}

extension EngineIOPacket {
    /// The WebSocket frame for this packet: binary data as is, in a binary
    /// frame; everything else as `<type><text>` in a text frame.
    public var webSocketFrame: EngineIOWebSocketFrame {
        switch body {
        case .binary(let bytes):
            return .binary(bytes)
        case .text(let text):
            return .text(Self.typeString(type) + text)
        }
    }

    /// The text encoding used by polling: `<type><text>`, or `b<base64>`
    /// for binary.
    public var encodedText: String {
        switch body {
        case .text(let text):
            return Self.typeString(type) + text
        case .binary(let bytes):
            return "b" + Base64.encode(bytes)
        }
    }

    /// Appends the text encoding (as in ``encodedText``) to `buffer`: one
    /// record of a polling payload, or, for a text packet, the bytes of its
    /// WebSocket text frame (without building an intermediate String).
    public func write(to buffer: inout ByteBuffer) {
        switch body {
        case .text(let text):
            buffer.writeInteger(UInt8(ascii: "0") + type.rawValue)
            buffer.writeString(text)
        case .binary(let bytes):
            buffer.writeInteger(UInt8(ascii: "b"))
            buffer.reserveCapacity(minimumWritableBytes: Base64.encodedLength(of: bytes.readableBytes))
            Base64.encode(bytes, to: &buffer)
        }
    }

    private static func typeString(_ type: EngineIOPacketType) -> String {
        switch type {
        case .open: return "0"
        case .close: return "1"
        case .ping: return "2"
        case .pong: return "3"
        case .message: return "4"
        case .upgrade: return "5"
        case .noop: return "6"
        }
    }
}

extension EngineIOPacket: CustomStringConvertible {
    public var description: String {
        switch body {
        case .text:
            return encodedText
        case .binary(let bytes):
            return "4<\(bytes.readableBytes) bytes>"
        }
    }
}

// MARK: - Handshake

/// The data of the OPEN packet that starts a session.
public struct EngineIOHandshake: Sendable, Hashable {
    /// The session id the client sends back on every poll and on the upgrade.
    public var sid: String
    /// `["websocket"]` on polling, `[]` on a WebSocket.
    public var upgrades: [String]
    /// Milliseconds between the server's PINGs.
    public var pingInterval: Int
    /// Milliseconds the client has to answer a PING.
    public var pingTimeout: Int
    /// The most bytes the client may put in one polling payload.
    public var maxPayload: Int

    /// The handshake data, times in milliseconds as on the wire.
    public init(sid: String, upgrades: [String], pingInterval: Int, pingTimeout: Int, maxPayload: Int) {
        self.sid = sid
        self.upgrades = upgrades
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.maxPayload = maxPayload
    }

    /// `{"sid":…,"upgrades":[…],"pingInterval":…,"pingTimeout":…,"maxPayload":…}`,
    /// exactly these five keys in this order.
    public var json: String {
        let value: JSONValue = [
            "sid": .string(sid),
            "upgrades": .array(upgrades.map { .string($0) }),
            "pingInterval": .number(Double(pingInterval)),
            "pingTimeout": .number(Double(pingTimeout)),
            "maxPayload": .number(Double(maxPayload)),
        ]
        return value.serialized()
    }

    /// Reads the handshake from an OPEN packet's JSON (for clients and tests).
    public init?(json: String) {
        guard let value = try? JSONValue(parsing: json),
            let sid = value["sid"]?.stringValue,
            let upgrades = value["upgrades"]?.arrayValue,
            let pingInterval = value["pingInterval"]?.intValue,
            let pingTimeout = value["pingTimeout"]?.intValue,
            let maxPayload = value["maxPayload"]?.intValue
        else { return nil }
        var names: [String] = []
        for upgrade in upgrades {
            guard let name = upgrade.stringValue else { return nil }
            names.append(name)
        }
        self.init(sid: sid, upgrades: names, pingInterval: pingInterval, pingTimeout: pingTimeout, maxPayload: maxPayload)
    }
}
