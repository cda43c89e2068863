import NIOCore
import XCTest

@testable import SocketIO

final class EngineIOPacketTests: XCTestCase {
    private func bytes(_ values: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: values) }

    private func assertPacketError(
        _ text: String,
        _ expected: EngineIOParserError,
        file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertThrowsError(try EngineIOPacket(text: text), "input: \(text.debugDescription)", file: file, line: line) { error in
            XCTAssertEqual(error as? EngineIOParserError, expected, file: file, line: line)
        }
        XCTAssertThrowsError(try EngineIOPacket(textBytes: ByteBuffer(string: text)), file: file, line: line)
    }

    private func assertPayloadError(
        _ body: String,
        _ expected: EngineIOParserError,
        file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertThrowsError(try EngineIOPayload.decode(body), "body: \(body.debugDescription)", file: file, line: line) { error in
            XCTAssertEqual(error as? EngineIOParserError, expected, file: file, line: line)
        }
        XCTAssertThrowsError(try EngineIOPayload.decode(ByteBuffer(string: body)), file: file, line: line) { error in
            XCTAssertEqual(error as? EngineIOParserError, expected, file: file, line: line)
        }
    }

    // MARK: Packets

    func testDecodesEveryPacketType() throws {
        XCTAssertEqual(try EngineIOPacket(text: "0{\"sid\":\"x\"}"), EngineIOPacket(type: .open, body: .text("{\"sid\":\"x\"}")))
        XCTAssertEqual(try EngineIOPacket(text: "1"), .close)
        XCTAssertEqual(try EngineIOPacket(text: "2"), .ping())
        XCTAssertEqual(try EngineIOPacket(text: "2probe"), .ping("probe"))
        XCTAssertEqual(try EngineIOPacket(text: "3"), .pong())
        XCTAssertEqual(try EngineIOPacket(text: "3probe"), .pong("probe"))
        XCTAssertEqual(try EngineIOPacket(text: "4hello"), .message("hello"))
        XCTAssertEqual(try EngineIOPacket(text: "4"), .message(""))
        XCTAssertEqual(try EngineIOPacket(text: "5"), .upgrade)
        XCTAssertEqual(try EngineIOPacket(text: "6"), .noop)
        XCTAssertEqual(try EngineIOPacket(text: "4é€😀"), .message("é€😀"))
        XCTAssertEqual(try EngineIOPacket(textBytes: ByteBuffer(string: "4é€😀")), .message("é€😀"))
    }

    func testEncodesEveryPacketType() {
        XCTAssertEqual(EngineIOPacket.close.encodedText, "1")
        XCTAssertEqual(EngineIOPacket.ping().encodedText, "2")
        XCTAssertEqual(EngineIOPacket.pong("probe").encodedText, "3probe")
        XCTAssertEqual(EngineIOPacket.message("hello").encodedText, "4hello")
        XCTAssertEqual(EngineIOPacket.upgrade.encodedText, "5")
        XCTAssertEqual(EngineIOPacket.noop.encodedText, "6")
        XCTAssertEqual(EngineIOPacket.message(bytes([1, 2, 3, 4])).encodedText, "bAQIDBA==")
        XCTAssertEqual(EngineIOPacket.message("x").description, "4x")
        XCTAssertEqual(EngineIOPacket.message(bytes([1, 2])).description, "4<2 bytes>")
    }

    func testWebSocketFrames() throws {
        // Text packets become text frames; binary goes out raw in a binary frame.
        XCTAssertEqual(EngineIOPacket.message("hello").webSocketFrame, .text("4hello"))
        XCTAssertEqual(EngineIOPacket.pong("probe").webSocketFrame, .text("3probe"))
        XCTAssertEqual(EngineIOPacket.message(bytes([1, 2, 3, 4])).webSocketFrame, .binary(bytes([1, 2, 3, 4])))
        // A binary frame is a binary MESSAGE as is.
        XCTAssertEqual(EngineIOPacket(binaryFrame: bytes([1, 2, 3, 4])), .message(bytes([1, 2, 3, 4])))
        XCTAssertEqual(EngineIOPacket(binaryFrame: ByteBuffer()), .message(ByteBuffer()))
        // A `b` text frame is accepted as base64 binary, like the reference server does.
        XCTAssertEqual(try EngineIOPacket(text: "bAQIDBA=="), .message(bytes([1, 2, 3, 4])))
    }

    func testAccessors() {
        XCTAssertEqual(EngineIOPacket.message("x").text, "x")
        XCTAssertNil(EngineIOPacket.message("x").binary)
        XCTAssertFalse(EngineIOPacket.message("x").isBinary)
        XCTAssertEqual(EngineIOPacket.message(bytes([1])).binary, bytes([1]))
        XCTAssertNil(EngineIOPacket.message(bytes([1])).text)
        XCTAssertTrue(EngineIOPacket.message(bytes([1])).isBinary)
    }

    func testWriteToByteBuffer() {
        var buffer = ByteBuffer()
        EngineIOPacket.message("hi").write(to: &buffer)
        EngineIOPacket.message(bytes([0xFF, 0xFE])).write(to: &buffer)
        XCTAssertEqual(String(buffer: buffer), "4hib//4=")
        XCTAssertEqual(EngineIOPacket.message("é").encodedByteCount, 3)
        XCTAssertEqual(EngineIOPacket.message(bytes([1, 2, 3, 4])).encodedByteCount, 9)
    }

    func testRejectsMalformedPackets() {
        // The official suite posts `abc` and expects the session closed.
        assertPacketError("abc", .invalidPacketType(UInt8(ascii: "a")))
        assertPacketError("", .emptyPacket)
        assertPacketError("7", .invalidPacketType(UInt8(ascii: "7")))
        assertPacketError("9hello", .invalidPacketType(UInt8(ascii: "9")))
        assertPacketError("/", .invalidPacketType(UInt8(ascii: "/")))
        assertPacketError(" 4", .invalidPacketType(UInt8(ascii: " ")))
        assertPacketError("B", .invalidPacketType(UInt8(ascii: "B")))
        assertPacketError("b!!!!", .invalidBase64)
        assertPacketError("bA", .invalidBase64)
        assertPacketError("bAQ=", .invalidBase64)
        assertPacketError("bAQIDBA=x", .invalidBase64)
    }

    func testRejectsInvalidUTF8TextBytes() {
        XCTAssertThrowsError(try EngineIOPacket(textBytes: bytes([UInt8(ascii: "4"), 0xFF]))) { error in
            XCTAssertEqual(error as? EngineIOParserError, .invalidUTF8)
        }
        XCTAssertThrowsError(try EngineIOPacket(textBytes: bytes([UInt8(ascii: "4"), 0xE2, 0x82]))) { error in
            XCTAssertEqual(error as? EngineIOParserError, .invalidUTF8)
        }
    }

    // MARK: Base64

    func testBase64KnownVectors() {
        let vectors: [(String, String)] = [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ]
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base64.encode(ByteBuffer(string: plain)), encoded)
            XCTAssertEqual(Base64.decode(encoded), ByteBuffer(string: plain))
        }
        // Unpadded input is accepted too.
        XCTAssertEqual(Base64.decode("Zm8"), ByteBuffer(string: "fo"))
        XCTAssertEqual(Base64.decode("Zg"), ByteBuffer(string: "f"))
        XCTAssertEqual(Base64.decode("+/+/"), bytes([0xFB, 0xFF, 0xBF]))
    }

    func testBase64RejectsBadInput() {
        for bad in ["=", "==", "Z", "Zg=", "Zg===", "Z===", "Zm9v=", "Zm 9v", "Zm9v\n", "Zm-_", "Zg==Zg==", "é"] {
            XCTAssertNil(Base64.decode(bad), bad)
        }
    }

    func testBase64RoundTripsAllLengthsAndBytes() {
        var rng = SeededGenerator(seed: 64)
        for length in 0..<300 {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let encoded = Base64.encode(bytes(data))
            XCTAssertEqual(encoded.utf8.count, Base64.encodedLength(of: length))
            XCTAssertEqual(Base64.decode(encoded), bytes(data))
        }
    }

    // MARK: Polling payloads

    func testDecodesReadmePayloads() throws {
        XCTAssertEqual(try EngineIOPayload.decode("4hello\u{1E}2\u{1E}4world"), [.message("hello"), .ping(), .message("world")])
        XCTAssertEqual(try EngineIOPayload.decode("4hello\u{1E}bAQIDBA=="), [.message("hello"), .message(bytes([1, 2, 3, 4]))])
    }

    func testDecodesTestSuiteBodies() throws {
        XCTAssertEqual(try EngineIOPayload.decode(ByteBuffer(string: "4hello")), [.message("hello")])
        XCTAssertEqual(
            try EngineIOPayload.decode(ByteBuffer(string: "4test1\u{1E}4test2\u{1E}4test3")),
            [.message("test1"), .message("test2"), .message("test3")])
        XCTAssertEqual(try EngineIOPayload.decode(ByteBuffer(string: "3")), [.pong()])
        XCTAssertEqual(try EngineIOPayload.decode(ByteBuffer(string: "1")), [.close])
        XCTAssertEqual(
            try EngineIOPayload.decode(ByteBuffer(string: #"42["hello"]"# + "\u{1E}" + #"42["world"]"#)),
            [.message(#"2["hello"]"#), .message(#"2["world"]"#)])
    }

    func testEncodesPayloads() {
        XCTAssertEqual(EngineIOPayload.encodeToString([.message("hello"), .ping(), .message("world")]), "4hello\u{1E}2\u{1E}4world")
        XCTAssertEqual(EngineIOPayload.encodeToString([.message("hello"), .message(bytes([1, 2, 3, 4]))]), "4hello\u{1E}bAQIDBA==")
        XCTAssertEqual(EngineIOPayload.encodeToString([.noop]), "6")
        XCTAssertEqual(EngineIOPayload.encodeToString([.close]), "1")
        XCTAssertEqual(EngineIOPayload.encodeToString([]), "")
        let handshake = EngineIOHandshake(sid: "abc", upgrades: ["websocket"], pingInterval: 300, pingTimeout: 200, maxPayload: 1_000_000)
        XCTAssertEqual(
            EngineIOPayload.encodeToString([.open(handshake)]),
            #"0{"sid":"abc","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#)
        var buffer = ByteBuffer(string: "x")
        EngineIOPayload.encode([.message("a"), .message("b")], into: &buffer)
        XCTAssertEqual(String(buffer: buffer), "x4a\u{1E}4b")
    }

    func testPayloadRoundTrip() throws {
        let packets: [EngineIOPacket] = [
            .message("plain"), .message(bytes([0, 255, 1])), .ping(), .pong("probe"), .message(""), .message(ByteBuffer()),
            .message("é€😀 with \"quotes\""), .noop, .close,
        ]
        let body = EngineIOPayload.encode(packets)
        XCTAssertEqual(try EngineIOPayload.decode(body), packets)
        XCTAssertEqual(try EngineIOPayload.decode(String(buffer: body)), packets)
    }

    func testRejectsMalformedPayloads() {
        assertPayloadError("abc", .invalidPacketType(UInt8(ascii: "a")))
        assertPayloadError("", .emptyPacket)
        assertPayloadError("4a\u{1E}", .emptyPacket)
        assertPayloadError("\u{1E}4a", .emptyPacket)
        assertPayloadError("4a\u{1E}\u{1E}4b", .emptyPacket)
        assertPayloadError("4a\u{1E}x", .invalidPacketType(UInt8(ascii: "x")))
        assertPayloadError("4a\u{1E}b***", .invalidBase64)
        XCTAssertThrowsError(try EngineIOPayload.decode(bytes([UInt8(ascii: "4"), 0xC0, 0x80]))) { error in
            XCTAssertEqual(error as? EngineIOParserError, .invalidUTF8)
        }
    }

    func testPayloadSizeLimit() throws {
        let body = ByteBuffer(string: "4" + String(repeating: "x", count: 99))
        XCTAssertNoThrow(try EngineIOPayload.decode(body, maxBytes: 100))
        XCTAssertThrowsError(try EngineIOPayload.decode(body, maxBytes: 99)) { error in
            XCTAssertEqual(error as? EngineIOParserError, .payloadTooLarge(size: 100, limit: 99))
        }
        XCTAssertThrowsError(try EngineIOPayload.decode("4éé", maxBytes: 4)) { error in
            XCTAssertEqual(error as? EngineIOParserError, .payloadTooLarge(size: 5, limit: 4))
        }
        XCTAssertNoThrow(try EngineIOPayload.checkSize(1_000_000, limit: 1_000_000))
        XCTAssertThrowsError(try EngineIOPayload.checkSize(1_000_001, limit: 1_000_000)) { error in
            XCTAssertEqual(error as? EngineIOParserError, .payloadTooLarge(size: 1_000_001, limit: 1_000_000))
        }
    }

    func testPacketCountLimit() {
        XCTAssertNoThrow(try EngineIOPayload.decode("2\u{1E}2\u{1E}2", maxPackets: 3))
        XCTAssertThrowsError(try EngineIOPayload.decode("2\u{1E}2\u{1E}2\u{1E}2", maxPackets: 3)) { error in
            XCTAssertEqual(error as? EngineIOParserError, .tooManyPackets(limit: 3))
        }
    }

    func testCountFitting() {
        let packets: [EngineIOPacket] = [.message("aaaa"), .message("bbbb"), .message("cccc")]
        // Each packet is 5 bytes, plus 1 for each separator.
        XCTAssertEqual(EngineIOPayload.countFitting(packets, maxBytes: 5), 1)
        XCTAssertEqual(EngineIOPayload.countFitting(packets, maxBytes: 10), 1)
        XCTAssertEqual(EngineIOPayload.countFitting(packets, maxBytes: 11), 2)
        XCTAssertEqual(EngineIOPayload.countFitting(packets, maxBytes: 17), 3)
        // A single oversized packet still goes out alone.
        XCTAssertEqual(EngineIOPayload.countFitting(packets, maxBytes: 1), 1)
        XCTAssertEqual(EngineIOPayload.countFitting([], maxBytes: 100), 0)
    }

    // MARK: Handshake

    func testHandshakeJSONHasExactlyTheFiveKeysInOrder() throws {
        let handshake = EngineIOHandshake(sid: "lv_VI97HAXpY6yYWAAAC", upgrades: [], pingInterval: 25000, pingTimeout: 20000, maxPayload: 1_000_000)
        XCTAssertEqual(
            handshake.json,
            #"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#)
        XCTAssertEqual(EngineIOPacket.open(handshake).webSocketFrame, .text("0" + handshake.json))
        XCTAssertEqual(EngineIOHandshake(json: handshake.json), handshake)
        XCTAssertNil(EngineIOHandshake(json: "{}"))
        XCTAssertNil(EngineIOHandshake(json: #"{"sid":"a","upgrades":[1],"pingInterval":1,"pingTimeout":1,"maxPayload":1}"#))
    }

    // MARK: Fuzz

    func testRandomBytesNeverCrashThePayloadDecoder() {
        var rng = SeededGenerator(seed: 0xE10)
        let alphabet: [UInt8] = Array("0123456789b4AQIDBA==+/\u{1E}abc".utf8) + [0x00, 0x80, 0xC3, 0xA9, 0xFF]
        for _ in 0..<20_000 {
            let length = Int.random(in: 0..<24, using: &rng)
            let body = (0..<length).map { _ in alphabet.randomElement(using: &rng)! }
            if let packets = try? EngineIOPayload.decode(bytes(body), maxBytes: 1000, maxPackets: 16) {
                XCTAssertFalse(packets.isEmpty)
                // Whatever decodes re-encodes to something that decodes the same.
                XCTAssertEqual(try? EngineIOPayload.decode(EngineIOPayload.encode(packets)), packets)
            }
            _ = try? EngineIOPacket(textBytes: bytes(body))
        }
    }
}
