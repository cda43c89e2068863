/// Who is in which room: the one room bookkeeping of the package (Socket.IO's adapter, the
/// chat hub). Both directions are kept (room → members, member → rooms), so joining,
/// leaving and leaving everything cost O(rooms of the member), never O(members of a room),
/// and an empty room is removed at once. Not thread-safe: its owner guards it (a lock or
/// an event loop). Delivery is not its job: ``BroadcastGroup`` and the adapters' per-loop
/// delivery take the members it selects.
package struct RoomIndex<Room: Hashable, Member: Hashable> {
    private var membersByRoom: [Room: Set<Member>] = [:]
    private var roomsByMember: [Member: Set<Room>] = [:]

    package init() {}

    /// Rooms that have members.
    package var roomCount: Int { membersByRoom.count }
    /// Members in at least one room.
    package var memberCount: Int { roomsByMember.count }
    /// Every member in at least one room.
    package var members: Dictionary<Member, Set<Room>>.Keys { roomsByMember.keys }
    /// Every room with its members.
    package var rooms: [Room: Set<Member>] { membersByRoom }

    /// Adds `member` to `rooms`; returns how many rooms this created.
    @discardableResult
    package mutating func join(_ member: Member, _ rooms: some Sequence<Room>) -> Int {
        var created = 0
        for room in rooms {
            guard roomsByMember[member, default: []].insert(room).inserted else { continue }
            if membersByRoom[room, default: []].insert(member).inserted, membersByRoom[room]!.count == 1 { created += 1 }
        }
        return created
    }

    /// Removes `member` from `room`; true when the room is now gone.
    @discardableResult
    package mutating func leave(_ member: Member, _ room: Room) -> Bool {
        guard roomsByMember[member]?.remove(room) != nil else { return false }
        if roomsByMember[member]?.isEmpty == true { roomsByMember[member] = nil }
        membersByRoom[room]?.remove(member)
        guard membersByRoom[room]?.isEmpty == true else { return false }
        membersByRoom[room] = nil
        return true
    }

    /// Removes `member` from every room; returns how many rooms this emptied.
    @discardableResult
    package mutating func leaveAll(_ member: Member) -> Int {
        guard let rooms = roomsByMember.removeValue(forKey: member) else { return 0 }
        var emptied = 0
        for room in rooms {
            membersByRoom[room]?.remove(member)
            if membersByRoom[room]?.isEmpty == true {
                membersByRoom[room] = nil
                emptied += 1
            }
        }
        return emptied
    }

    /// The rooms of `member` (nil: in none).
    package func rooms(of member: Member) -> Set<Room>? { roomsByMember[member] }

    /// The members of `room` (empty when it does not exist).
    package func members(of room: Room) -> Set<Member> { membersByRoom[room] ?? [] }

    /// The members in any of `rooms` (every member when `rooms` is empty) and in none of
    /// `except`: Socket.IO's `to(...).except(...)` selection.
    package func select(inAnyOf rooms: Set<Room>, except: Set<Room> = []) -> [Member] {
        var excluded = Set<Member>()
        for room in except {
            if let members = membersByRoom[room] { excluded.formUnion(members) }
        }
        if rooms.isEmpty {
            return roomsByMember.keys.filter { !excluded.contains($0) }
        }
        if rooms.count == 1, let only = rooms.first {
            return (membersByRoom[only] ?? []).filter { !excluded.contains($0) }
        }
        var selected = Set<Member>()
        for room in rooms {
            if let members = membersByRoom[room] { selected.formUnion(members) }
        }
        return selected.filter { !excluded.contains($0) }
    }
}
