import NIOHTTP1
import SocketIO

/// A socket in a FETCH_SOCKETS_RESPONSE: `{id, handshake, rooms, data}`, the handshake in
/// Node's shape `{headers, time, address, xdomain, secure, issued, url, query, auth}`.
enum RemoteSocketCoding {
    static func json(_ socket: SocketIORemoteSocket) -> JSONValue {
        let handshake = socket.handshake
        var headers = JSONObject()
        for (name, value) in handshake.headers {
            let key = name.lowercased()
            if let earlier = headers[key]?.stringValue {
                headers[key] = .string(earlier + ", " + value)
            } else {
                headers[key] = .string(value)
            }
        }
        var query = JSONObject()
        for (key, value) in handshake.query.sorted(by: { $0.key < $1.key }) { query[key] = .string(value) }
        let shape: JSONObject = [
            "headers": .object(headers),
            "time": .string(javaScriptDate(milliseconds: handshake.issued)),
            "address": .string(handshake.address),
            "xdomain": .bool(handshake.headers["origin"].first != nil),
            "secure": false,
            "issued": .number(Double(handshake.issued)),
            "url": .string(handshake.url),
            "query": .object(query),
            "auth": .object(handshake.auth),
        ]
        return [
            "id": .string(socket.id),
            "handshake": .object(shape),
            "rooms": .array(socket.rooms.sorted().map { .string($0) }),
            "data": socket.data,
        ]
    }

    /// A socket another node reported; nil without an id.
    static func socket(_ value: JSONValue, namespace: String, adapter: any SocketIOAdapter) -> SocketIORemoteSocket? {
        guard let id = value["id"]?.stringValue else { return nil }
        let shape = value["handshake"]
        var headers = HTTPHeaders()
        for (name, value) in shape?["headers"]?.objectValue ?? [:] {
            if let text = value.stringValue { headers.add(name: name, value: text) }
        }
        var query: [String: String] = [:]
        for (key, value) in shape?["query"]?.objectValue ?? [:] {
            if let text = value.stringValue { query[key] = text }
        }
        let handshake = SocketIOHandshake(
            headers: headers, query: query, address: shape?["address"]?.stringValue ?? "",
            auth: shape?["auth"]?.objectValue ?? [:], url: shape?["url"]?.stringValue ?? "",
            issued: Int64(shape?["issued"]?.doubleValue ?? 0))
        let rooms = Set(value["rooms"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        return SocketIORemoteSocket(id: id, namespace: namespace, adapter: adapter, handshake: handshake,
                                    rooms: rooms, data: value["data"] ?? .null)
    }

    /// `Date.prototype.toString()` in UTC: `Tue Dec 01 2026 16:23:43 GMT+0000 (Coordinated Universal Time)`.
    static func javaScriptDate(milliseconds: Int64) -> String {
        let seconds = milliseconds / 1000
        let days = seconds / 86_400
        let secondOfDay = seconds % 86_400
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let weekday = weekdays[Int(((days % 7) + 7) % 7)]
        return "\(weekday) \(months[Int(month - 1)]) \(two(day)) \(year) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) GMT+0000 (Coordinated Universal Time)"
    }
}
