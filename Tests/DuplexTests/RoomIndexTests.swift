import XCTest

@testable import Duplex

/// The one room bookkeeping (Socket.IO's adapter, the chat hub): both directions kept in
/// step, empty rooms removed, and Socket.IO's rooms/except selection.
final class RoomIndexTests: XCTestCase {
    func testJoinLeaveAndEmptyRooms() {
        var index = RoomIndex<String, Int>()
        XCTAssertEqual(index.join(1, ["a", "b"]), 2, "two rooms created")
        XCTAssertEqual(index.join(2, ["b", "c"]), 1, "only c is new")
        XCTAssertEqual(index.join(2, ["b"]), 0, "joining twice changes nothing")
        XCTAssertEqual(index.roomCount, 3)
        XCTAssertEqual(index.members(of: "b"), [1, 2])
        XCTAssertEqual(index.rooms(of: 2), ["b", "c"])

        XCTAssertFalse(index.leave(1, "b"), "b still has 2")
        XCTAssertFalse(index.leave(1, "b"), "not a member any more")
        XCTAssertTrue(index.leave(1, "a"), "a is gone")
        XCTAssertNil(index.rooms(of: 1), "a member in no room is forgotten")
        XCTAssertEqual(index.leaveAll(2), 2, "b and c emptied")
        XCTAssertEqual(index.roomCount, 0)
        XCTAssertEqual(index.memberCount, 0)
        XCTAssertEqual(index.leaveAll(2), 0)
    }

    func testSelectionInAnyRoomExceptOthers() {
        var index = RoomIndex<String, Int>()
        index.join(1, ["red", "1"])
        index.join(2, ["red", "blue", "2"])
        index.join(3, ["blue", "3"])
        index.join(4, ["4"])
        XCTAssertEqual(Set(index.select(inAnyOf: [])), [1, 2, 3, 4], "no rooms: everyone")
        XCTAssertEqual(Set(index.select(inAnyOf: ["red"])), [1, 2])
        XCTAssertEqual(Set(index.select(inAnyOf: ["red", "blue"])), [1, 2, 3], "each once")
        XCTAssertEqual(Set(index.select(inAnyOf: ["red", "blue"], except: ["2"])), [1, 3])
        XCTAssertEqual(Set(index.select(inAnyOf: [], except: ["blue"])), [1, 4])
        XCTAssertEqual(index.select(inAnyOf: ["nowhere"]), [])
    }
}
