import NIOCore

/// The Socket.IO v5 packet types, with their wire digits.
public enum SocketIOPacketType: UInt8, Sendable, Hashable, CaseIterable {
    /// `0`: a client joins a namespace (with its auth), or the server accepts (with `sid`).
    case connect = 0
    /// `1`: either side leaves a namespace.
    case disconnect = 1
    /// `2`: an event with its arguments, maybe with an ack id.
    case event = 2
    /// `3`: the answer to an event that asked for one.
    case ack = 3
    /// `4`: the server refuses a namespace connection (middleware error, unknown namespace).
    case connectError = 4
    /// `5`: an event whose arguments include binary, sent as attachments after it.
    case binaryEvent = 5
    /// `6`: an answer with binary attachments.
    case binaryAck = 6

    /// Whether packets of this type carry a binary-attachment count (`5`, `6`).
    public var isBinary: Bool {
        self == .binaryEvent || self == .binaryAck
    }
}

/// One Socket.IO packet, with any binary attachments already in place as
/// `JSONValue.binary` values inside `payload`.
///
/// Wire format: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]`,
/// with the namespace written only when it is not `/`.
public struct SocketIOPacket: Sendable, Hashable {
    /// What the packet does; BINARY_ types are chosen when encoding, from the payload.
    public var type: SocketIOPacketType
    /// The namespace, `/` for the main one.
    public var namespace: String
    /// The acknowledgement id: on an EVENT it asks for an ACK; on an ACK it
    /// names the EVENT answered.
    public var ackID: Int?
    /// The JSON payload: an object or nothing for CONNECT, an array for EVENT
    /// and ACK (the event name first for EVENT), an object (or a string, from
    /// old peers) for CONNECT_ERROR, nothing for DISCONNECT.
    public var payload: JSONValue?

    /// A packet; the static builders (`connect`, `event`, `ack`...) are shorter.
    public init(type: SocketIOPacketType, namespace: String = "/", ackID: Int? = nil, payload: JSONValue? = nil) {
        self.type = type
        self.namespace = namespace
        self.ackID = ackID
        self.payload = payload
    }
}

// MARK: - Building packets

extension SocketIOPacket {
    /// CONNECT: from a client with its auth payload, or the server's answer
    /// with `{"sid": …}`.
    public static func connect(namespace: String = "/", payload: JSONObject? = nil) -> SocketIOPacket {
        SocketIOPacket(type: .connect, namespace: namespace, payload: payload.map { .object($0) })
    }

    /// DISCONNECT: leaves (or, from the server, ends) a namespace connection.
    public static func disconnect(namespace: String = "/") -> SocketIOPacket {
        SocketIOPacket(type: .disconnect, namespace: namespace)
    }

    /// An EVENT: `[name, arguments...]`. It is sent as BINARY_EVENT when an
    /// argument contains binary.
    public static func event(
        _ name: String,
        _ arguments: [JSONValue] = [],
        namespace: String = "/",
        ackID: Int? = nil
    ) -> SocketIOPacket {
        var payload: [JSONValue] = [.string(name)]
        payload.append(contentsOf: arguments)
        return SocketIOPacket(type: .event, namespace: namespace, ackID: ackID, payload: .array(payload))
    }

    /// An ACK answering the EVENT `ackID`. It is sent as BINARY_ACK when an
    /// argument contains binary.
    public static func ack(_ arguments: [JSONValue], namespace: String = "/", ackID: Int) -> SocketIOPacket {
        SocketIOPacket(type: .ack, namespace: namespace, ackID: ackID, payload: .array(arguments))
    }

    /// CONNECT_ERROR: `{"message": …}`, plus `"data"` when given.
    public static func connectError(namespace: String = "/", message: String, data: JSONValue? = nil) -> SocketIOPacket {
        var object: JSONObject = ["message": .string(message)]
        if let data {
            object["data"] = data
        }
        return SocketIOPacket(type: .connectError, namespace: namespace, payload: .object(object))
    }
}

// MARK: - Reading packets

extension SocketIOPacket {
    /// EVENT or BINARY_EVENT.
    public var isEvent: Bool { type == .event || type == .binaryEvent }

    /// ACK or BINARY_ACK.
    public var isAck: Bool { type == .ack || type == .binaryAck }

    /// The event name of an EVENT: its first element, a string (or a number,
    /// which JavaScript event emitters treat as its decimal string).
    public var eventName: String? {
        guard isEvent, case .array(let elements)? = payload, let first = elements.first else { return nil }
        switch first {
        case .string(let name):
            return name
        case .number:
            return first.serialized()
        default:
            return nil
        }
    }

    /// The arguments: after the event name for an EVENT, the whole array for
    /// an ACK; `nil` for other types.
    public var arguments: [JSONValue]? {
        guard case .array(let elements)? = payload else { return nil }
        if isEvent {
            return Array(elements.dropFirst())
        }
        if isAck {
            return elements
        }
        return nil
    }

    /// The payload object of a CONNECT (the client's auth data).
    public var connectPayload: JSONObject? {
        guard type == .connect else { return nil }
        return payload?.objectValue
    }
}

// MARK: - Encoding

/// An encoded packet: the text, to send as one Engine.IO message, then each
/// attachment as its own binary Engine.IO message, in order.
public struct SocketIOEncodedPacket: Sendable, Hashable {
    /// The packet's text form, sent as one text Engine.IO message (for binary packets, with
    /// placeholders where the attachments go).
    public var text: String
    /// The binary attachments, each sent as its own binary Engine.IO message after the text.
    public var attachments: [ByteBuffer]

    /// An encoded packet from its parts.
    public init(text: String, attachments: [ByteBuffer] = []) {
        self.text = text
        self.attachments = attachments
    }

    /// The Engine.IO MESSAGE packets to send, text first.
    public var engineIOPackets: [EngineIOPacket] {
        var packets: [EngineIOPacket] = []
        packets.reserveCapacity(1 + attachments.count)
        packets.append(.message(text))
        for attachment in attachments {
            packets.append(.message(attachment))
        }
        return packets
    }
}

extension SocketIOPacket {
    /// Encodes the packet. `binary` values anywhere in the payload are pulled
    /// out into attachments and replaced by `{"_placeholder":true,"num":N}`;
    /// EVENT/ACK become BINARY_EVENT/BINARY_ACK when there are any, and
    /// BINARY_EVENT/BINARY_ACK become EVENT/ACK when there are none.
    /// CONNECT, DISCONNECT and CONNECT_ERROR have no binary form: binary
    /// there is written inline as a base64 string.
    ///
    /// The namespace is written as given: it should start with `/` and must
    /// not contain `,`.
    public func encode() -> SocketIOEncodedPacket {
        // Written optimistically as a non-binary packet, in one buffer; most
        // packets carry no binary. If attachments turn up, the type digit is
        // swapped and the `<count>-` header spliced in after it.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        bytes.append(UInt8(ascii: "0") + type.plainType.rawValue)
        if namespace != "/" && !namespace.isEmpty {
            bytes.appendUTF8(of: namespace)
            bytes.append(UInt8(ascii: ","))
        }
        if let ackID {
            JSONSerializer.writeInteger(Int64(ackID), to: &bytes)
        }
        var attachments: [ByteBuffer] = []
        if let payload {
            if type.binaryType != nil {
                JSONSerializer.write(payload, to: &bytes, extractingAttachmentsInto: &attachments)
            } else {
                // No binary form for this type: bytes go inline as base64.
                JSONSerializer.write(payload, to: &bytes)
            }
        }
        if !attachments.isEmpty, let binaryType = type.binaryType {
            bytes[0] = UInt8(ascii: "0") + binaryType.rawValue
            var header: [UInt8] = []
            JSONSerializer.writeInteger(Int64(attachments.count), to: &header)
            header.append(UInt8(ascii: "-"))
            bytes.insert(contentsOf: header, at: 1)
        }
        return SocketIOEncodedPacket(text: String(decoding: bytes, as: UTF8.self), attachments: attachments)
    }
}

extension SocketIOPacketType {
    /// EVENT for BINARY_EVENT, ACK for BINARY_ACK, itself otherwise.
    internal var plainType: SocketIOPacketType {
        switch self {
        case .binaryEvent: return .event
        case .binaryAck: return .ack
        default: return self
        }
    }

    /// The binary form of EVENT and ACK; `nil` for CONNECT, DISCONNECT and
    /// CONNECT_ERROR, which never carry attachments.
    internal var binaryType: SocketIOPacketType? {
        switch self {
        case .event, .binaryEvent: return .binaryEvent
        case .ack, .binaryAck: return .binaryAck
        default: return nil
        }
    }
}

extension SocketIOPacket: CustomStringConvertible {
    public var description: String {
        let encoded = encode()
        if encoded.attachments.isEmpty {
            return encoded.text
        }
        let sizes = encoded.attachments.map { "<\($0.readableBytes) bytes>" }.joined(separator: " ")
        return "\(encoded.text) + \(sizes)"
    }
}
