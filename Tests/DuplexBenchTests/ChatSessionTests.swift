import ChatRoom
import NIOCore
import XCTest

@testable import DuplexBench

/// `duplex bench chat` reads the chat's own envelopes, whose keys come in no fixed order.
final class ChatSessionTests: XCTestCase {
    func testReadsTheStampOfARealMessageEnvelope() {
        // The text a publisher sends: send time (16 hex digits), publisher id (8), filler.
        let text = String(format: "%016llx%08x", UInt64(0x0123_4567_89AB_CDEF), UInt32(42)) + String(repeating: "x", count: 16)
        let stored = StoredMessage(id: 7, room: "bench", user: "User 12", userID: 12, text: text, timestamp: 1_700_000_000_000)
        for _ in 0..<20 {  // a different key order each process run, maybe each encoding
            let head = ByteBuffer(string: ChatEnvelope.message(stored).json())
            XCTAssertEqual(ChatSession.type(head), 2)
            let stamp = ChatSession.stamp(head)
            XCTAssertEqual(stamp?.sentAt, 0x0123_4567_89AB_CDEF)
            XCTAssertEqual(stamp?.publisher, 42)
        }
    }

    func testTellsTheOtherKinds() {
        var welcome = ChatEnvelope(type: .welcome, msg: "Welcome, User 1", room: "bench")
        welcome.online = (1...200).map { "User \($0)" }
        XCTAssertEqual(ChatSession.type(ByteBuffer(string: welcome.json())), 3)
        let refusal = ChatEnvelope(type: .error, msg: "Message too long (max 2000 characters)")
        XCTAssertEqual(ChatSession.type(ByteBuffer(string: refusal.json())), 6)
        XCTAssertNil(ChatSession.type(ByteBuffer(string: "not json")))
        XCTAssertNil(ChatSession.stamp(ByteBuffer(string: #"{"type":2,"msg":"User 1: not hex at all"}"#)))
    }
}
