/// What recovery keeps of a disconnected socket: enough to give it back to its client.
public struct SocketIOSession: Sendable, Hashable {
    /// The socket id the client gets back.
    public var sid: String
    /// The private id the client presents to recover (never broadcast).
    public var pid: String
    /// The rooms the socket was in (its own id among them).
    public var rooms: Set<String>
    /// The socket's ``SocketIOSocket/data``.
    public var data: JSONValue

    /// A session from its parts.
    public init(sid: String, pid: String, rooms: Set<String>, data: JSONValue) {
        self.sid = sid
        self.pid = pid
        self.rooms = rooms
        self.data = data
    }

    /// Whether a packet broadcast with `options` would have reached a socket in these rooms
    /// (the reference's rule: in one of the rooms, or to everyone, and in none excepted).
    public func wouldReceive(rooms selected: Set<String>, except: Set<String>) -> Bool {
        (selected.isEmpty || !rooms.isDisjoint(with: selected)) && rooms.isDisjoint(with: except)
    }

    /// Bytes the session counts for in a bounded table: its ids, room names and data.
    var size: Int {
        sid.utf8.count + pid.utf8.count + rooms.reduce(0) { $0 + $1.utf8.count } + data.serialized().utf8.count
    }
}
