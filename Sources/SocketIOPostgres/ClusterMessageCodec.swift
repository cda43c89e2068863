import MessagePack
import NIOCore
import SocketIO

/// Why a NOTIFY payload or an attachment is not a cluster message.
struct ClusterMessageDecodingError: Error, CustomStringConvertible {
    var description: String
}

/// What a NOTIFY on a namespace channel carries: a whole message, or a pointer to one in
/// the attachments table, or (connection state recovery) to a binary or large logged
/// BROADCAST in the packet log: `{"uid","nsp","loggedOffset"}`, no `type`, so Node peers
/// pass it over.
enum ClusterNotification: Sendable, Equatable {
    case message(ClusterMessage)
    case attachment(uid: String, type: Int, id: Int64)
    case logged(uid: String, offset: Int64)
}

extension ClusterMessage {
    /// The JSON object, keys in the reference's order (`type`, `data`, `uid`, `nsp`).
    var json: JSONValue {
        var object = JSONObject()
        object["type"] = .number(Double(type.rawValue))
        if let data { object["data"] = .object(data) }
        object["uid"] = .string(uid)
        if let nsp { object["nsp"] = .string(nsp) }
        return .object(object)
    }

    /// The NOTIFY payload of a message that travels inline.
    var jsonText: String { json.serialized() }

    /// Whether the message must go through the attachments table: binary inside (for the
    /// kinds that carry arguments), or a JSON text of `threshold` bytes or more.
    func needsAttachment(jsonByteCount: Int, threshold: Int) -> Bool {
        if type.sendsBinaryAsAttachment, let data, JSONValue.object(data).containsBinary { return true }
        return jsonByteCount >= threshold
    }

    /// The attachment row's payload: the whole message as a MessagePack map.
    var messagePack: ByteBuffer { json.messagePackValue.encoded() }

    /// The NOTIFY payload that points at attachment `id`: `{"uid","type","attachmentId"}`
    /// (the id as a string, as Node's driver returns a bigint).
    func attachmentHeader(id: Int64) -> String {
        JSONValue.object(["uid": .string(uid), "type": .number(Double(type.rawValue)), "attachmentId": .string(String(id))]).serialized()
    }

    /// A message from its JSON (or MessagePack-decoded) object. Unknown fields are
    /// ignored; an unknown `type` is an error the caller may ignore.
    init(json value: JSONValue) throws {
        guard let object = value.objectValue else { throw ClusterMessageDecodingError(description: "not an object") }
        guard let number = object["type"]?.intValue else { throw ClusterMessageDecodingError(description: "no type") }
        guard let type = ClusterMessageType(rawValue: number) else {
            throw ClusterMessageDecodingError(description: "unknown message type \(number)")
        }
        self.type = type
        self.uid = object["uid"]?.stringValue ?? ""
        self.nsp = object["nsp"]?.stringValue
        self.data = object["data"]?.objectValue
        self.offset = object["offset"]?.stringValue
    }

    /// A message from an attachment row.
    init(messagePack buffer: ByteBuffer) throws {
        let value: MessagePackValue
        do {
            value = try MessagePackValue(decoding: buffer)
        } catch {
            throw ClusterMessageDecodingError(description: "attachment: \(error)")
        }
        try self.init(json: JSONValue(messagePack: value))
    }
}

extension ClusterNotification {
    /// Parses a NOTIFY payload.
    init(payload: String) throws {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: payload)
        } catch {
            throw ClusterMessageDecodingError(description: "NOTIFY payload: \(error)")
        }
        if let logged = value["loggedOffset"] {
            guard let offset = logged.stringValue.flatMap({ Int64($0) }) else {
                throw ClusterMessageDecodingError(description: "bad loggedOffset \(logged)")
            }
            self = .logged(uid: value["uid"]?.stringValue ?? "", offset: offset)
        } else if let attachment = value["attachmentId"] {
            // A string from Node (a bigint), a number from other peers: both accepted.
            guard let id = attachment.stringValue.flatMap({ Int64($0) }) ?? attachment.doubleValue.flatMap({ Int64(exactly: $0) }) else {
                throw ClusterMessageDecodingError(description: "bad attachmentId \(attachment)")
            }
            self = .attachment(uid: value["uid"]?.stringValue ?? "", type: value["type"]?.intValue ?? 0, id: id)
        } else {
            self = .message(try ClusterMessage(json: value))
        }
    }
}
