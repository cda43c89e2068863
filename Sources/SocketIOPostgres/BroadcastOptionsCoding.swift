import NIOCore
import SocketIO

extension SocketIOBroadcastOptions {
    /// `{"rooms": […], "except": […], "flags": {…}}` as the reference publishes it; only
    /// the flags that are set (`compress` only when false; `local` is never published:
    /// local operations stay here).
    var clusterJSON: JSONValue {
        var flags = JSONObject()
        if self.flags.volatile { flags["volatile"] = true }
        if !self.flags.compress { flags["compress"] = false }
        if let timeout = self.flags.timeout { flags["timeout"] = .number(Double(timeout.nanoseconds / 1_000_000)) }
        return [
            "rooms": .array(rooms.sorted().map { .string($0) }),
            "except": .array(except.sorted().map { .string($0) }),
            "flags": .object(flags),
        ]
    }

    /// Options another node published; missing parts mean "none".
    init(clusterJSON value: JSONValue?) {
        let rooms = value?["rooms"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let except = value?["except"]?.arrayValue?.compactMap(\.stringValue) ?? []
        var flags = Flags()
        flags.volatile = value?["flags"]?["volatile"]?.boolValue ?? false
        flags.compress = value?["flags"]?["compress"]?.boolValue ?? true
        if let milliseconds = value?["flags"]?["timeout"]?.doubleValue, milliseconds.isFinite, milliseconds >= 0 {
            flags.timeout = .milliseconds(Int64(min(milliseconds, 86_400_000)))
        }
        self.init(rooms: Set(rooms), except: Set(except), flags: flags)
    }
}

extension SocketIOPacket {
    /// The reference's decoded packet, `{"type": 2, "data": [event, …args]}`.
    var clusterJSON: JSONValue {
        ["type": 2, "data": payload ?? .array([])]
    }

    /// An EVENT from another node's packet; nil when it is not one.
    init?(clusterJSON value: JSONValue?, namespace: String, ackID: Int?) {
        guard let data = value?["data"]?.arrayValue, let name = data.first?.stringValue else { return nil }
        self = .event(name, Array(data.dropFirst()), namespace: namespace, ackID: ackID)
    }
}
