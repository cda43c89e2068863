import NIOCore

/// Every way a Socket.IO packet can be malformed. The reference server closes
/// the connection on any of them.
public enum SocketIOParserError: Error, Sendable, Hashable {
    /// An empty text packet.
    case emptyPacket
    /// The first character is not a digit 0–6 (the byte is given).
    case invalidPacketType(UInt8)
    /// BINARY_EVENT/BINARY_ACK without a `<digits>-` attachment count.
    case invalidAttachmentCount
    /// More attachments announced than the decoder accepts.
    case tooManyAttachments(count: Int, limit: Int)
    /// A namespace with control characters or longer than the limit.
    case invalidNamespace
    /// Something other than digits where the ack id goes, or an ack id that
    /// overflows (`42abc["x"]`, `42-1["x"]`).
    case invalidAckID
    /// An ack id on a packet type that has none (CONNECT, DISCONNECT, CONNECT_ERROR).
    case unexpectedAckID(SocketIOPacketType)
    /// An ACK/BINARY_ACK without an ack id.
    case missingAckID
    /// The payload is not valid JSON.
    case invalidJSON(JSONParsingError)
    /// Junk after a complete JSON payload.
    case trailingCharacters
    /// A payload of the wrong shape for the type (`42{}`, `40[]`, `41{}`,
    /// `2[]`, an ACK without an array).
    case invalidPayload(SocketIOPacketType)
    /// An EVENT from a peer using a name the server reserves (`connect`, `disconnect`, …).
    case reservedEventName(String)
    /// A `{"_placeholder":true}` whose `num` is missing, not an integer, or
    /// not below the announced attachment count.
    case invalidPlaceholder
    /// A binary attachment arrived while no binary packet was waiting for one.
    case unexpectedAttachment
    /// A text packet arrived while a binary packet still waited for attachments.
    case missingAttachments(expected: Int, received: Int)
}

/// Decodes Socket.IO packets and reassembles binary ones: feed it each
/// Engine.IO MESSAGE in order, text with `decode(text:)` and binary with
/// `decode(attachment:)`; it returns a packet once one is complete.
///
/// Any error leaves the decoder reset; the connection should be closed.
public struct SocketIOPacketDecoder: Sendable {
    /// Attachments per packet accepted by default.
    public static let defaultMaxAttachments = 10
    /// Namespace length (in bytes) accepted by default.
    public static let defaultMaxNamespaceLength = 1024

    /// Event names a peer may not use: the server emits these itself.
    public static let reservedEventNames: Set<String> = [
        "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
    ]

    /// The most binary attachments one packet may announce; more is an error before anything
    /// is allocated for them.
    public var maxAttachments: Int
    /// The longest namespace name accepted, in bytes.
    public var maxNamespaceLength: Int
    /// The deepest JSON nesting accepted in a payload (arrays and objects), so that a
    /// hostile payload cannot exhaust the stack.
    public var maxDepth: Int

    private struct Pending: Sendable {
        var packet: SocketIOPacket
        var expected: Int
        var received: [ByteBuffer]
    }

    private var pending: Pending?

    /// A decoder with these bounds (the defaults suit the open internet).
    public init(
        maxAttachments: Int = SocketIOPacketDecoder.defaultMaxAttachments,
        maxNamespaceLength: Int = SocketIOPacketDecoder.defaultMaxNamespaceLength,
        maxDepth: Int = JSONValue.defaultMaxDepth
    ) {
        self.maxAttachments = maxAttachments
        self.maxNamespaceLength = maxNamespaceLength
        self.maxDepth = maxDepth
    }

    /// Whether a binary packet is waiting for more attachments.
    public var isAwaitingAttachments: Bool { pending != nil }

    /// Drops a partially received binary packet.
    public mutating func reset() {
        pending = nil
    }

    /// Decodes a text packet (the data of an Engine.IO MESSAGE). Returns the
    /// packet, or `nil` when it is a binary packet that waits for attachments.
    public mutating func decode(text: String) throws(SocketIOParserError) -> SocketIOPacket? {
        if let pending {
            self.pending = nil
            throw .missingAttachments(expected: pending.expected, received: pending.received.count)
        }
        let (packet, attachmentCount) = try decodeHeaderAndPayload(text)
        guard packet.type.isBinary && attachmentCount > 0 else {
            return packet
        }
        var received: [ByteBuffer] = []
        received.reserveCapacity(attachmentCount)
        pending = Pending(packet: packet, expected: attachmentCount, received: received)
        return nil
    }

    /// Takes a binary attachment. Returns the packet once its last attachment
    /// has arrived, `nil` while more are expected.
    public mutating func decode(attachment: ByteBuffer) throws(SocketIOParserError) -> SocketIOPacket? {
        guard var current = pending else {
            throw .unexpectedAttachment
        }
        current.received.append(attachment)
        guard current.received.count == current.expected else {
            pending = current
            return nil
        }
        pending = nil
        var packet = current.packet
        if let payload = packet.payload {
            // Placeholders were range-checked when the text arrived.
            packet.payload = Self.reconstruct(payload, with: current.received)
        }
        return packet
    }

    // MARK: Text

    private func decodeHeaderAndPayload(_ text: String) throws(SocketIOParserError) -> (SocketIOPacket, Int) {
        var text = text
        let result = text.withUTF8 { bytes in
            Result { () throws(SocketIOParserError) -> (SocketIOPacket, Int) in
                try decodeHeaderAndPayload(bytes)
            }
        }
        return try result.get()
    }

    private func decodeHeaderAndPayload(_ bytes: UnsafeBufferPointer<UInt8>) throws(SocketIOParserError) -> (SocketIOPacket, Int) {
        let count = bytes.count
        guard count > 0 else { throw .emptyPacket }

        // <type>
        let typeByte = bytes[0]
        guard typeByte >= UInt8(ascii: "0"), let type = SocketIOPacketType(rawValue: typeByte &- UInt8(ascii: "0")) else {
            throw .invalidPacketType(typeByte)
        }
        var index = 1

        // [<attachments>-]
        var attachmentCount = 0
        if type.isBinary {
            let start = index
            while index < count, Self.isDigit(bytes[index]) {
                // Saturate at Int.max: the limit check below rejects it.
                let (timesTen, overflow1) = attachmentCount.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = timesTen.addingReportingOverflow(Int(bytes[index] - UInt8(ascii: "0")))
                attachmentCount = overflow1 || overflow2 ? Int.max : sum
                index += 1
            }
            guard index > start, index < count, bytes[index] == UInt8(ascii: "-") else {
                throw .invalidAttachmentCount
            }
            guard attachmentCount <= maxAttachments else {
                throw .tooManyAttachments(count: attachmentCount, limit: maxAttachments)
            }
            index += 1
        }

        // [<namespace>,] — runs to the comma, or to the end (`40/custom`).
        var namespace = "/"
        if index < count, bytes[index] == UInt8(ascii: "/") {
            let start = index
            while index < count, bytes[index] != UInt8(ascii: ",") {
                // Control characters have no place in a namespace name.
                if bytes[index] < 0x20 || bytes[index] == 0x7F {
                    throw .invalidNamespace
                }
                index += 1
            }
            guard index - start <= maxNamespaceLength else { throw .invalidNamespace }
            namespace = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if index < count { index += 1 }  // the comma
        }

        // [<ack id>]
        var ackID: Int?
        if index < count, Self.isDigit(bytes[index]) {
            var value = 0
            while index < count, Self.isDigit(bytes[index]) {
                let (timesTen, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = timesTen.addingReportingOverflow(Int(bytes[index] - UInt8(ascii: "0")))
                guard !overflow1 && !overflow2 else { throw .invalidAckID }
                value = sum
                index += 1
            }
            ackID = value
        }

        // [<JSON payload>] — only an array, an object or a string is ever
        // valid, so anything else here is junk in the ack id position.
        var payload: JSONValue?
        if index < count {
            switch bytes[index] {
            case UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: "\""):
                do throws(JSONParsingError) {
                    payload = try JSONParser.parse(bytes, from: index, maxDepth: maxDepth, inputIsValidUTF8: true)
                } catch {
                    if error.reason == .trailingCharacters {
                        throw .trailingCharacters
                    }
                    throw .invalidJSON(error)
                }
            default:
                throw type.acceptsAckID ? SocketIOParserError.invalidAckID : SocketIOParserError.invalidPayload(type)
            }
        }

        let packet = SocketIOPacket(type: type, namespace: namespace, ackID: ackID, payload: payload)
        try validate(packet)
        if type.isBinary, let payload {
            try Self.checkPlaceholders(in: payload, attachmentCount: attachmentCount)
        }
        return (packet, attachmentCount)
    }

    private func validate(_ packet: SocketIOPacket) throws(SocketIOParserError) {
        let type = packet.type
        if packet.ackID != nil && !type.acceptsAckID {
            throw .unexpectedAckID(type)
        }
        switch type {
        case .connect:
            switch packet.payload {
            case nil, .object?: return
            default: throw .invalidPayload(type)
            }
        case .disconnect:
            guard packet.payload == nil else { throw .invalidPayload(type) }
        case .connectError:
            switch packet.payload {
            case nil, .object?, .string?: return
            default: throw .invalidPayload(type)
            }
        case .event, .binaryEvent:
            // A non-empty array whose first element names the event.
            guard case .array(let elements)? = packet.payload, let first = elements.first else {
                throw .invalidPayload(type)
            }
            switch first {
            case .string(let name):
                if Self.reservedEventNames.contains(name) {
                    throw .reservedEventName(name)
                }
            case .number:
                break
            default:
                throw .invalidPayload(type)
            }
        case .ack, .binaryAck:
            guard case .array? = packet.payload else { throw .invalidPayload(type) }
            guard packet.ackID != nil else { throw .missingAckID }
        }
    }

    // MARK: Placeholders

    /// The attachment index of a placeholder object; `nil` when `value` is not
    /// a placeholder; throws when it is one with a bad `num`.
    private static func placeholderIndex(_ value: JSONValue, attachmentCount: Int) throws(SocketIOParserError) -> Int? {
        guard case .object(let object) = value, object["_placeholder"] == .bool(true) else {
            return nil
        }
        guard let num = object["num"]?.intValue, num >= 0, num < attachmentCount else {
            throw .invalidPlaceholder
        }
        return num
    }

    private static func checkPlaceholders(in value: JSONValue, attachmentCount: Int) throws(SocketIOParserError) {
        if try placeholderIndex(value, attachmentCount: attachmentCount) != nil {
            return
        }
        switch value {
        case .array(let elements):
            for element in elements {
                try checkPlaceholders(in: element, attachmentCount: attachmentCount)
            }
        case .object(let object):
            for (_, member) in object {
                try checkPlaceholders(in: member, attachmentCount: attachmentCount)
            }
        default:
            break
        }
    }

    /// Replaces placeholders with their attachments. The placeholders were
    /// validated against `attachments.count` already, so this cannot fail.
    private static func reconstruct(_ value: JSONValue, with attachments: [ByteBuffer]) -> JSONValue {
        switch value {
        case .object(let object):
            if object["_placeholder"] == .bool(true), let num = object["num"]?.intValue, attachments.indices.contains(num) {
                return .binary(attachments[num])
            }
            var rebuilt = JSONObject(reservingCapacity: object.count)
            for (key, member) in object {
                rebuilt[key] = reconstruct(member, with: attachments)
            }
            return .object(rebuilt)
        case .array(let elements):
            return .array(elements.map { reconstruct($0, with: attachments) })
        default:
            return value
        }
    }

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}

extension SocketIOPacketType {
    /// EVENT and ACK (and their binary forms) carry ack ids; the others do not.
    internal var acceptsAckID: Bool {
        switch self {
        case .event, .ack, .binaryEvent, .binaryAck: return true
        case .connect, .disconnect, .connectError: return false
        }
    }
}
