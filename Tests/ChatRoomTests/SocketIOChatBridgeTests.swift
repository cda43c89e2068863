import SocketIO
import XCTest

@testable import ChatRoom

/// The Socket.IO side of the chat: the envelope reaches Socket.IO clients as the same
/// object the WebSocket clients get, built without a JSON round trip.
final class SocketIOChatBridgeTests: XCTestCase {
    func testPayloadIsTheEnvelopesCodableForm() throws {
        var full = ChatEnvelope(type: .welcome, msg: "Welcome, Ann", timestamp: 1_733_000_000_123, room: "général")
        full.user = "Ann"
        full.text = "héllo \"quoted\" \\ ✓"
        full.id = 42
        full.history = true
        full.online = ["Ann", "Bob", "Zoë"]
        full.count = 3
        full.you = "Ann"
        full.previous = "User 1"
        full.code = "nickname_taken"
        let minimal = ChatEnvelope(type: .leave, msg: "Bob left", timestamp: 5)
        for envelope in [full, minimal, .error(.empty)] {
            let built = SocketIOChatBridge.payload(envelope)
            XCTAssertEqual(built, try JSONValue(encoding: envelope))
            let keys = built.objectValue?.keys ?? []
            XCTAssertEqual(keys.first, "type", "declaration order (JSONEncoder's order is unspecified)")
        }
    }
}
