import NIOCore
import XCTest

@testable import SocketIO

final class SocketIOPacketTests: XCTestCase {
    private func decodeOne(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> SocketIOPacket {
        var decoder = SocketIOPacketDecoder()
        let packet = try decoder.decode(text: text)
        guard let packet else {
            XCTFail("packet waits for attachments", file: file, line: line)
            throw SocketIOParserError.missingAttachments(expected: 0, received: 0)
        }
        return packet
    }

    private func assertDecodeError(
        _ text: String,
        _ expected: SocketIOParserError,
        decoder: SocketIOPacketDecoder = SocketIOPacketDecoder(),
        file: StaticString = #filePath,
        line: UInt = #line
    ) {
        var decoder = decoder
        XCTAssertThrowsError(try decoder.decode(text: text), "input: \(text.debugDescription)", file: file, line: line) { error in
            XCTAssertEqual(error as? SocketIOParserError, expected, "input: \(text.debugDescription)", file: file, line: line)
        }
        XCTAssertFalse(decoder.isAwaitingAttachments, file: file, line: line)
    }

    private func bytes(_ values: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: values) }

    // MARK: Encoding: the examples of the protocol README

    func testEncodesReadmeExamples() {
        XCTAssertEqual(SocketIOPacket.connect().encode().text, "0")
        XCTAssertEqual(
            SocketIOPacket.connect(namespace: "/admin", payload: ["sid": "oSO0OpakMV_3jnilAAAA"]).encode().text,
            #"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#)
        XCTAssertEqual(
            SocketIOPacket.connectError(message: "Not authorized").encode().text, #"4{"message":"Not authorized"}"#)
        XCTAssertEqual(SocketIOPacket.event("foo").encode().text, #"2["foo"]"#)
        XCTAssertEqual(SocketIOPacket.event("bar", namespace: "/admin").encode().text, #"2/admin,["bar"]"#)
        XCTAssertEqual(SocketIOPacket.event("foo", ackID: 12).encode().text, #"212["foo"]"#)
        XCTAssertEqual(SocketIOPacket.ack(["bar"], namespace: "/admin", ackID: 13).encode().text, #"3/admin,13["bar"]"#)
        XCTAssertEqual(SocketIOPacket.ack([], ackID: 12).encode().text, "312[]")
        XCTAssertEqual(SocketIOPacket.disconnect().encode().text, "1")
        XCTAssertEqual(SocketIOPacket.disconnect(namespace: "/admin").encode().text, "1/admin,")
    }

    func testEncodesBinaryReadmeExamples() {
        let single = SocketIOPacket.event("baz", [.binary(bytes([1, 2, 3, 4]))]).encode()
        XCTAssertEqual(single.text, #"51-["baz",{"_placeholder":true,"num":0}]"#)
        XCTAssertEqual(single.attachments, [bytes([1, 2, 3, 4])])

        let multiple = SocketIOPacket.event("baz", [.binary(bytes([1, 2])), .binary(bytes([3, 4]))], namespace: "/admin")
            .encode()
        XCTAssertEqual(
            multiple.text, #"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        XCTAssertEqual(multiple.attachments, [bytes([1, 2]), bytes([3, 4])])

        let ack = SocketIOPacket.ack(["bar", .binary(bytes([1, 2, 3, 4]))], ackID: 15).encode()
        XCTAssertEqual(ack.text, #"61-15["bar",{"_placeholder":true,"num":0}]"#)
        XCTAssertEqual(ack.attachments.count, 1)

        let sample = SocketIOPacket.ack([.binary(bytes([0xFF]))], namespace: "/admin", ackID: 1).encode()
        XCTAssertEqual(sample.text, #"461-/admin,1[{"_placeholder":true,"num":0}]"#.dropFirst().description)
    }

    func testEncodesTestSuiteReplies() {
        // What the server sends back in the official socket.io test suite.
        let back = SocketIOPacket.event("message-back", [.binary(bytes([1, 2, 3])), .binary(bytes([4, 5, 6]))]).encode()
        XCTAssertEqual("4" + back.text, #"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        XCTAssertEqual(back.attachments, [bytes([1, 2, 3]), bytes([4, 5, 6])])

        let ack = SocketIOPacket.ack([1, "2", ["3": [false]]], ackID: 456).encode()
        XCTAssertEqual("4" + ack.text, #"43456[1,"2",{"3":[false]}]"#)

        let binaryAck = SocketIOPacket.ack([.binary(bytes([1, 2, 3])), .binary(bytes([4, 5, 6]))], ackID: 789).encode()
        XCTAssertEqual("4" + binaryAck.text, #"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)

        let invalid = SocketIOPacket.connectError(namespace: "/random", message: "Invalid namespace").encode()
        XCTAssertEqual("4" + invalid.text, #"44/random,{"message":"Invalid namespace"}"#)

        XCTAssertEqual("4" + SocketIOPacket.event("auth", [.object([:])]).encode().text, #"42["auth",{}]"#)
        XCTAssertEqual(
            "4" + SocketIOPacket.event("auth", [["token": "abc"]], namespace: "/custom").encode().text,
            #"42/custom,["auth",{"token":"abc"}]"#)
        XCTAssertEqual(
            "4" + SocketIOPacket.connect(payload: ["sid": "x"]).encode().text, #"40{"sid":"x"}"#)
    }

    func testAttachmentsNumberedDepthFirstInDocumentOrder() {
        let packet = SocketIOPacket.event(
            "e",
            [["a": .binary(bytes([0])), "b": [.binary(bytes([1])), ["c": .binary(bytes([2]))]]], .binary(bytes([3]))])
        let encoded = packet.encode()
        XCTAssertEqual(
            encoded.text,
            #"54-["e",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1},{"c":{"_placeholder":true,"num":2}}]},{"_placeholder":true,"num":3}]"#
        )
        XCTAssertEqual(encoded.attachments, [bytes([0]), bytes([1]), bytes([2]), bytes([3])])
    }

    func testBinaryTypeWithoutBinaryIsSentPlain() {
        let packet = SocketIOPacket(type: .binaryEvent, ackID: 3, payload: ["x", 1])
        XCTAssertEqual(packet.encode().text, #"23["x",1]"#)
        XCTAssertEqual(SocketIOPacket(type: .binaryAck, ackID: 3, payload: []).encode().text, "33[]")
    }

    func testBinaryInConnectIsInlineBase64() {
        let packet = SocketIOPacket.connect(payload: ["key": .binary(bytes([1, 2, 3, 4]))])
        let encoded = packet.encode()
        XCTAssertEqual(encoded.text, #"0{"key":"AQIDBA=="}"#)
        XCTAssertTrue(encoded.attachments.isEmpty)
    }

    func testEngineIOPacketsOfEncodedPacket() {
        let encoded = SocketIOPacket.event("e", [.binary(bytes([7]))]).encode()
        XCTAssertEqual(encoded.engineIOPackets, [.message(#"51-["e",{"_placeholder":true,"num":0}]"#), .message(bytes([7]))])
        XCTAssertEqual(
            encoded.engineIOPackets.map(\.webSocketFrame),
            [.text(#"451-["e",{"_placeholder":true,"num":0}]"#), .binary(bytes([7]))])
    }

    // MARK: Decoding

    func testDecodesReadmeExamples() throws {
        XCTAssertEqual(try decodeOne("0"), .connect())
        XCTAssertEqual(try decodeOne(#"0/admin,{"token":"123"}"#), .connect(namespace: "/admin", payload: ["token": "123"]))
        XCTAssertEqual(try decodeOne(#"4{"message":"Not authorized"}"#), .connectError(message: "Not authorized"))
        XCTAssertEqual(try decodeOne(#"2["foo"]"#), .event("foo"))
        XCTAssertEqual(try decodeOne(#"2/admin,["bar"]"#), .event("bar", namespace: "/admin"))
        XCTAssertEqual(try decodeOne(#"212["foo"]"#), .event("foo", ackID: 12))
        XCTAssertEqual(try decodeOne(#"3/admin,13["bar"]"#), .ack(["bar"], namespace: "/admin", ackID: 13))
        XCTAssertEqual(try decodeOne("312[]"), .ack([], ackID: 12))
        XCTAssertEqual(try decodeOne("1"), .disconnect())
        XCTAssertEqual(try decodeOne("1/admin,"), .disconnect(namespace: "/admin"))
    }

    func testDecodesTestSuiteClientPackets() throws {
        XCTAssertEqual(try decodeOne(#"0{"token":"123"}"#).connectPayload, ["token": "123"])
        XCTAssertEqual(try decodeOne("0/custom,"), .connect(namespace: "/custom"))
        XCTAssertEqual(try decodeOne(#"0/custom,{"token":"abc"}"#).connectPayload, ["token": "abc"])
        // Without the trailing comma the namespace runs to the end.
        XCTAssertEqual(try decodeOne("0/random"), .connect(namespace: "/random"))
        XCTAssertEqual(try decodeOne("0/custom"), .connect(namespace: "/custom"))
        XCTAssertEqual(try decodeOne("1/custom"), .disconnect(namespace: "/custom"))

        let message = try decodeOne(#"2["message",1,"2",{"3":[true]}]"#)
        XCTAssertEqual(message.eventName, "message")
        XCTAssertEqual(message.arguments, [1, "2", ["3": [true]]])
        XCTAssertNil(message.ackID)
        // Echoing the arguments back gives exactly the suite's expected text.
        XCTAssertEqual(
            "4" + SocketIOPacket.event("message-back", message.arguments ?? []).encode().text,
            #"42["message-back",1,"2",{"3":[true]}]"#)

        let withAck = try decodeOne(#"2456["message-with-ack",1,"2",{"3":[false]}]"#)
        XCTAssertEqual(withAck.ackID, 456)
        XCTAssertEqual(withAck.eventName, "message-with-ack")
        XCTAssertEqual(
            "4" + SocketIOPacket.ack(withAck.arguments ?? [], ackID: 456).encode().text, #"43456[1,"2",{"3":[false]}]"#)
    }

    func testReassemblesBinaryEventFromTestSuite() throws {
        var decoder = SocketIOPacketDecoder()
        XCTAssertNil(try decoder.decode(text: #"52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#))
        XCTAssertTrue(decoder.isAwaitingAttachments)
        XCTAssertNil(try decoder.decode(attachment: bytes([1, 2, 3])))
        let packet = try XCTUnwrap(try decoder.decode(attachment: bytes([4, 5, 6])))
        XCTAssertFalse(decoder.isAwaitingAttachments)
        XCTAssertEqual(packet.type, .binaryEvent)
        XCTAssertTrue(packet.isEvent)
        XCTAssertEqual(packet.eventName, "message")
        XCTAssertEqual(packet.arguments, [.binary(bytes([1, 2, 3])), .binary(bytes([4, 5, 6]))])

        // And the echo is byte-for-byte what the suite expects.
        let echo = SocketIOPacket.event("message-back", packet.arguments ?? []).encode()
        XCTAssertEqual(
            "4" + echo.text, #"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        XCTAssertEqual(echo.attachments, [bytes([1, 2, 3]), bytes([4, 5, 6])])
    }

    func testReassemblesBinaryEventWithAck() throws {
        var decoder = SocketIOPacketDecoder()
        XCTAssertNil(
            try decoder.decode(text: #"52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#))
        XCTAssertNil(try decoder.decode(attachment: bytes([1, 2, 3])))
        let packet = try XCTUnwrap(try decoder.decode(attachment: bytes([4, 5, 6])))
        XCTAssertEqual(packet.ackID, 789)
        let reply = SocketIOPacket.ack(packet.arguments ?? [], ackID: 789).encode()
        XCTAssertEqual("4" + reply.text, #"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        XCTAssertEqual(reply.attachments, [bytes([1, 2, 3]), bytes([4, 5, 6])])
    }

    func testReassemblyHonoursPlaceholderNumbersAndNamespace() throws {
        var decoder = SocketIOPacketDecoder()
        // Placeholders out of order, nested, and one attachment used twice.
        let text = #"62-/admin,7[{"x":{"_placeholder":true,"num":1}},[{"_placeholder":true,"num":0}],{"_placeholder":true,"num":1}]"#
        XCTAssertNil(try decoder.decode(text: text))
        XCTAssertNil(try decoder.decode(attachment: bytes([0xA])))
        let packet = try XCTUnwrap(try decoder.decode(attachment: bytes([0xB])))
        XCTAssertEqual(packet.type, .binaryAck)
        XCTAssertEqual(packet.namespace, "/admin")
        XCTAssertEqual(packet.ackID, 7)
        XCTAssertEqual(
            packet.arguments, [["x": .binary(bytes([0xB]))], [.binary(bytes([0xA]))], .binary(bytes([0xB]))])
    }

    func testBinaryPacketWithZeroAttachmentsIsCompleteAtOnce() throws {
        var decoder = SocketIOPacketDecoder()
        let packet = try decoder.decode(text: #"50-["x"]"#)
        XCTAssertEqual(packet?.type, .binaryEvent)
        XCTAssertEqual(packet?.eventName, "x")
        XCTAssertFalse(decoder.isAwaitingAttachments)
    }

    func testDecoderCarriesOnAfterACompletePacket() throws {
        var decoder = SocketIOPacketDecoder()
        XCTAssertNil(try decoder.decode(text: #"51-["a",{"_placeholder":true,"num":0}]"#))
        XCTAssertNotNil(try decoder.decode(attachment: bytes([1])))
        XCTAssertEqual(try decoder.decode(text: #"2["b"]"#), .event("b"))
        XCTAssertNil(try decoder.decode(text: #"51-["c",{"_placeholder":true,"num":0}]"#))
        XCTAssertEqual(try decoder.decode(attachment: bytes([2]))?.arguments, [.binary(bytes([2]))])
    }

    func testPlaceholderInPlainEventStaysAnObject() throws {
        let packet = try decodeOne(#"2["x",{"_placeholder":true,"num":0}]"#)
        XCTAssertEqual(packet.arguments, [["_placeholder": true, "num": 0]])
    }

    func testNonTruePlaceholderFlagIsAPlainObject() throws {
        var decoder = SocketIOPacketDecoder()
        let packet = try decoder.decode(text: #"50-["x",{"_placeholder":false,"num":9}]"#)
        XCTAssertEqual(packet?.arguments, [["_placeholder": false, "num": 9]])
    }

    func testNumericEventNames() throws {
        let packet = try decodeOne("2[1,2]")
        XCTAssertEqual(packet.eventName, "1")
        XCTAssertEqual(packet.arguments, [2])
    }

    func testConnectErrorWithStringPayload() throws {
        XCTAssertEqual(try decodeOne(#"4"Not authorized""#).payload, "Not authorized")
        XCTAssertEqual(try decodeOne("4/admin,").payload, nil)
    }

    func testAccessorsOnOtherTypes() throws {
        XCTAssertNil(SocketIOPacket.connect(payload: ["a": 1]).eventName)
        XCTAssertNil(SocketIOPacket.connect(payload: ["a": 1]).arguments)
        XCTAssertNil(SocketIOPacket.ack([1], ackID: 1).eventName)
        XCTAssertEqual(SocketIOPacket.ack([1], ackID: 1).arguments, [1])
        XCTAssertNil(SocketIOPacket.event("x").connectPayload)
        XCTAssertEqual(SocketIOPacket.event("x", [1]).description, #"2["x",1]"#)
        XCTAssertEqual(SocketIOPacket.event("x", [.binary(bytes([1, 2]))]).description, #"51-["x",{"_placeholder":true,"num":0}] + <2 bytes>"#)
    }

    func testRoundTripsAcrossTypesAndNamespaces() throws {
        let packets: [SocketIOPacket] = [
            .connect(),
            .connect(namespace: "/a/b", payload: ["token": "t", "n": 1.5]),
            .disconnect(namespace: "/x"),
            .event("hello", ["world", 1, true, nil, ["k": [1, 2]]], namespace: "/chat", ackID: 0),
            .event("unicode", ["é€😀\u{0}\n\"\\"]),
            .ack([], namespace: "/chat", ackID: 9_007_199_254_740_991),
            .connectError(namespace: "/private", message: "nope", data: ["code": 401]),
        ]
        for packet in packets {
            let encoded = packet.encode()
            XCTAssertTrue(encoded.attachments.isEmpty)
            var decoder = SocketIOPacketDecoder()
            XCTAssertEqual(try decoder.decode(text: encoded.text), packet, encoded.text)
        }
    }

    func testBinaryRoundTrip() throws {
        let packet = SocketIOPacket.event(
            "upload", [["name": "a.bin", "data": .binary(bytes([0, 1, 2]))], .binary(ByteBuffer())], namespace: "/files",
            ackID: 5)
        let encoded = packet.encode()
        XCTAssertEqual(encoded.attachments.count, 2)
        var decoder = SocketIOPacketDecoder()
        XCTAssertNil(try decoder.decode(text: encoded.text))
        XCTAssertNil(try decoder.decode(attachment: encoded.attachments[0]))
        var decoded = try XCTUnwrap(try decoder.decode(attachment: encoded.attachments[1]))
        XCTAssertEqual(decoded.type, .binaryEvent)
        decoded.type = .event
        XCTAssertEqual(decoded, packet)
    }

    func testReadmeSampleSessionThroughBothLayers() throws {
        // Request 1: the OPEN packet.
        let open = try EngineIOPacket(
            text: #"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}"#
        )
        XCTAssertEqual(open.type, .open)
        let handshake = try XCTUnwrap(EngineIOHandshake(json: open.text ?? ""))
        XCTAssertEqual(handshake.sid, "lv_VI97HAXpY6yYWAAAC")
        XCTAssertEqual(handshake.pingTimeout, 5000)

        // Request 2 and 5: client bodies.
        var decoder = SocketIOPacketDecoder()
        let connect = try EngineIOPayload.decode(ByteBuffer(string: "40"))
        XCTAssertEqual(try connect.map { try decoder.decode(text: $0.text ?? "") }, [.connect()])
        let events = try EngineIOPayload.decode(ByteBuffer(string: "42[\"hello\"]\u{1E}42[\"world\"]"))
        XCTAssertEqual(try events.map { try decoder.decode(text: $0.text ?? "") }, [.event("hello"), .event("world")])

        // Requests 3 and 4: what the server writes.
        let replies = [
            SocketIOPacket.connect(payload: ["sid": "wZX3oN0bSVIhsaknAAAI"]), SocketIOPacket.event("hey", ["Jude"]),
        ].flatMap { $0.encode().engineIOPackets }
        XCTAssertEqual(
            EngineIOPayload.encodeToString(replies), "40{\"sid\":\"wZX3oN0bSVIhsaknAAAI\"}\u{1E}42[\"hey\",\"Jude\"]")

        // The WebSocket part: `40/admin,`, then an EVENT with an ack and a BINARY_ACK reply.
        let frames = ["2probe", "5", "40/admin,", #"42/admin,1["tellme"]"#]
        let packets = try frames.map { try EngineIOPacket(text: $0) }
        XCTAssertEqual(packets.map(\.type), [.ping, .upgrade, .message, .message])
        XCTAssertEqual(try decoder.decode(text: packets[2].text ?? ""), .connect(namespace: "/admin"))
        let tellme = try XCTUnwrap(try decoder.decode(text: packets[3].text ?? ""))
        XCTAssertEqual(tellme, .event("tellme", namespace: "/admin", ackID: 1))
        let reply = SocketIOPacket.ack([.binary(ByteBuffer(bytes: [1]))], namespace: "/admin", ackID: 1).encode()
        XCTAssertEqual(
            reply.engineIOPackets.map(\.webSocketFrame),
            [.text(#"461-/admin,1[{"_placeholder":true,"num":0}]"#), .binary(ByteBuffer(bytes: [1]))])
    }

    // MARK: Malformed input

    func testRejectsBadPacketTypes() {
        assertDecodeError("", .emptyPacket)
        assertDecodeError("abc", .invalidPacketType(UInt8(ascii: "a")))
        assertDecodeError("7", .invalidPacketType(UInt8(ascii: "7")))
        assertDecodeError("9[]", .invalidPacketType(UInt8(ascii: "9")))
        assertDecodeError("/", .invalidPacketType(UInt8(ascii: "/")))
        assertDecodeError(" 2[\"x\"]", .invalidPacketType(UInt8(ascii: " ")))
        assertDecodeError("é", .invalidPacketType(0xC3))
    }

    func testRejectsBadAckIDs() {
        // The official suite: `42abc["message-with-ack",1,"2",{"3":[false]}]` must close the connection.
        assertDecodeError(#"2abc["message-with-ack",1,"2",{"3":[false]}]"#, .invalidAckID)
        assertDecodeError(#"2-1["x"]"#, .invalidAckID)
        assertDecodeError(#"21.5["x"]"#, .invalidAckID)
        assertDecodeError(#"21a["x"]"#, .invalidAckID)
        assertDecodeError(#"2/admin,x1["x"]"#, .invalidAckID)
        assertDecodeError(#"2 ["x"]"#, .invalidAckID)
        assertDecodeError(#"2true"#, .invalidAckID)
        assertDecodeError(#"299999999999999999999999["x"]"#, .invalidAckID)
        assertDecodeError("3abc[]", .invalidAckID)
    }

    func testRejectsAckIDWhereNoneBelongs() {
        assertDecodeError("012", .unexpectedAckID(.connect))
        assertDecodeError(#"0/admin,5{"a":1}"#, .unexpectedAckID(.connect))
        assertDecodeError("15", .unexpectedAckID(.disconnect))
        assertDecodeError(#"41{"message":"x"}"#, .unexpectedAckID(.connectError))
    }

    func testRejectsAckWithoutID() {
        assertDecodeError("3[]", .missingAckID)
        assertDecodeError(#"3/admin,["x"]"#, .missingAckID)
        assertDecodeError("61-[{\"_placeholder\":true,\"num\":0}]", .missingAckID)
    }

    func testRejectsPayloadsOfTheWrongShape() {
        // The official suite: `42{}` must close the connection.
        assertDecodeError("2{}", .invalidPayload(.event))
        assertDecodeError("2", .invalidPayload(.event))
        assertDecodeError("2[]", .invalidPayload(.event))
        assertDecodeError("2[null]", .invalidPayload(.event))
        assertDecodeError("2[[\"x\"]]", .invalidPayload(.event))
        assertDecodeError(#"2"x""#, .invalidPayload(.event))
        assertDecodeError("0[]", .invalidPayload(.connect))
        assertDecodeError(#"0"token""#, .invalidPayload(.connect))
        assertDecodeError("0abc", .invalidPayload(.connect))
        assertDecodeError("1{}", .invalidPayload(.disconnect))
        assertDecodeError("1/admin,[]", .invalidPayload(.disconnect))
        assertDecodeError("1junk", .invalidPayload(.disconnect))
        assertDecodeError("4[]", .invalidPayload(.connectError))
        assertDecodeError("31{}", .invalidPayload(.ack))
        assertDecodeError("31", .invalidPayload(.ack))
        assertDecodeError(#"51-{"_placeholder":true,"num":0}"#, .invalidPayload(.binaryEvent))
        assertDecodeError("61-1{}", .invalidPayload(.binaryAck))
    }

    func testRejectsReservedEventNames() {
        for name in ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"] {
            assertDecodeError(#"2[""# + name + #""]"#, .reservedEventName(name))
        }
        XCTAssertNoThrow(try decodeOne(#"2["connected"]"#))
    }

    func testRejectsInvalidJSONAndTrailingJunk() {
        assertDecodeError(#"2["x""#, .invalidJSON(JSONParsingError(.unexpectedEnd, offset: 5)))
        assertDecodeError(#"2["x",]"#, .invalidJSON(JSONParsingError(.unexpectedCharacter(UInt8(ascii: "]")), offset: 6)))
        assertDecodeError(#"2["x"]]"#, .trailingCharacters)
        // Whitespace after the payload is not junk (JSON.parse allows it too).
        XCTAssertEqual(try decodeOne(#"2["x"] "#), .event("x"))
        assertDecodeError(#"0{"a":1}x"#, .trailingCharacters)
        assertDecodeError(#"2["x"]["y"]"#, .trailingCharacters)
        assertDecodeError(#"2/admin,["x"],"#, .trailingCharacters)
        let deep = "2[\"x\"," + String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000) + "]"
        var decoder = SocketIOPacketDecoder()
        XCTAssertThrowsError(try decoder.decode(text: deep)) { error in
            guard case .invalidJSON(let json)? = error as? SocketIOParserError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(json.reason, .nestingTooDeep(limit: JSONValue.defaultMaxDepth))
        }
    }

    func testRejectsBadNamespaces() {
        assertDecodeError("2/ad\u{01}min,[\"x\"]", .invalidNamespace)
        assertDecodeError("0/a\nb,", .invalidNamespace)
        assertDecodeError("0/\u{7F}", .invalidNamespace)
        let long = "0/" + String(repeating: "a", count: SocketIOPacketDecoder.defaultMaxNamespaceLength) + ","
        assertDecodeError(long, .invalidNamespace)
        var decoder = SocketIOPacketDecoder(maxNamespaceLength: 8)
        XCTAssertThrowsError(try decoder.decode(text: "0/abcdefgh,"))
        XCTAssertNoThrow(try decoder.decode(text: "0/abcdefg,"))
    }

    func testRejectsBadAttachmentHeaders() {
        assertDecodeError(#"5["x"]"#, .invalidAttachmentCount)
        assertDecodeError(#"5-["x"]"#, .invalidAttachmentCount)
        assertDecodeError(#"51["x"]"#, .invalidAttachmentCount)
        assertDecodeError("51", .invalidAttachmentCount)
        assertDecodeError("5", .invalidAttachmentCount)
        assertDecodeError(#"5a-["x"]"#, .invalidAttachmentCount)
        assertDecodeError(#"611["x"]"#, .invalidAttachmentCount)
    }

    func testRejectsTooManyAttachments() {
        assertDecodeError(#"511-["x"]"#, .tooManyAttachments(count: 11, limit: 10))
        assertDecodeError(#"5999999999999999999999999999-["x"]"#, .tooManyAttachments(count: Int.max, limit: 10))
        var decoder = SocketIOPacketDecoder(maxAttachments: 2)
        XCTAssertThrowsError(try decoder.decode(text: #"53-["x"]"#)) { error in
            XCTAssertEqual(error as? SocketIOParserError, .tooManyAttachments(count: 3, limit: 2))
        }
        XCTAssertNoThrow(try decoder.decode(text: #"52-["x"]"#))
    }

    func testRejectsPlaceholdersOutOfRange() {
        assertDecodeError(#"51-["x",{"_placeholder":true,"num":1}]"#, .invalidPlaceholder)
        assertDecodeError(#"51-["x",{"_placeholder":true,"num":-1}]"#, .invalidPlaceholder)
        assertDecodeError(#"51-["x",{"_placeholder":true,"num":0.5}]"#, .invalidPlaceholder)
        assertDecodeError(#"51-["x",{"_placeholder":true,"num":"0"}]"#, .invalidPlaceholder)
        assertDecodeError(#"51-["x",{"_placeholder":true}]"#, .invalidPlaceholder)
        assertDecodeError(#"50-["x",{"_placeholder":true,"num":0}]"#, .invalidPlaceholder)
        assertDecodeError(#"51-["x",[[{"y":{"_placeholder":true,"num":5}}]]]"#, .invalidPlaceholder)
    }

    func testAttachmentCountMismatch() throws {
        // A binary frame with no binary packet waiting.
        var decoder = SocketIOPacketDecoder()
        XCTAssertThrowsError(try decoder.decode(attachment: bytes([1]))) { error in
            XCTAssertEqual(error as? SocketIOParserError, .unexpectedAttachment)
        }
        // A text packet while attachments are still expected.
        XCTAssertNil(try decoder.decode(text: #"52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#))
        XCTAssertNil(try decoder.decode(attachment: bytes([1])))
        XCTAssertThrowsError(try decoder.decode(text: #"2["y"]"#)) { error in
            XCTAssertEqual(error as? SocketIOParserError, .missingAttachments(expected: 2, received: 1))
        }
        // The decoder is reset after the error.
        XCTAssertFalse(decoder.isAwaitingAttachments)
        XCTAssertEqual(try decoder.decode(text: #"2["y"]"#), .event("y"))
        // One attachment too many.
        XCTAssertNil(try decoder.decode(text: #"51-["x",{"_placeholder":true,"num":0}]"#))
        XCTAssertNotNil(try decoder.decode(attachment: bytes([1])))
        XCTAssertThrowsError(try decoder.decode(attachment: bytes([2])))
    }

    func testResetDropsPendingPacket() throws {
        var decoder = SocketIOPacketDecoder()
        XCTAssertNil(try decoder.decode(text: #"51-["x",{"_placeholder":true,"num":0}]"#))
        decoder.reset()
        XCTAssertFalse(decoder.isAwaitingAttachments)
        XCTAssertEqual(try decoder.decode(text: #"2["y"]"#), .event("y"))
    }

    func testErrorsPropagateAsTypedErrors() {
        var decoder = SocketIOPacketDecoder()
        do {
            _ = try decoder.decode(text: "2{}")
            XCTFail("expected an error")
        } catch {
            // `error` is statically a SocketIOParserError (typed throws).
            XCTAssertEqual(error, .invalidPayload(.event))
        }
    }

    // MARK: Fuzz

    func testRandomTextNeverCrashesTheDecoder() {
        var rng = SeededGenerator(seed: 0xF00D)
        let alphabet: [Character] = Array(#"0123456789-/,[]{}":_placeholdertruefalsnum abc"#) + ["\u{0}", "\u{1E}", "é", "😀"]
        var decoder = SocketIOPacketDecoder()
        for _ in 0..<30_000 {
            let length = Int.random(in: 0..<20, using: &rng)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &rng)! })
            do {
                if try decoder.decode(text: text) == nil {
                    XCTAssertTrue(decoder.isAwaitingAttachments)
                }
            } catch {
                XCTAssertFalse(decoder.isAwaitingAttachments)
            }
            if Int.random(in: 0..<4, using: &rng) == 0 {
                _ = try? decoder.decode(attachment: ByteBuffer(bytes: [UInt8.random(in: 0...255, using: &rng)]))
            }
        }
    }

    func testMutatedValidPacketsNeverCrashTheDecoder() {
        var rng = SeededGenerator(seed: 7)
        let seeds = [
            #"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#.dropFirst().description,
            #"3456[1,"2",{"3":[false]}]"#,
            #"4/random,{"message":"Invalid namespace"}"#,
            #"0/custom,{"token":"abc"}"#,
            #"62-/admin,7[{"x":{"_placeholder":true,"num":1}},[{"_placeholder":true,"num":0}]]"#,
        ]
        for _ in 0..<20_000 {
            var bytes = Array(seeds.randomElement(using: &rng)!.utf8)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let position = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[position] = UInt8.random(in: 0x20...0x7E, using: &rng)
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8.random(in: 0x20...0x7E, using: &rng), at: position)
                }
                if bytes.isEmpty { break }
            }
            var decoder = SocketIOPacketDecoder()
            guard let packet = try? decoder.decode(text: String(decoding: bytes, as: UTF8.self)) else { continue }
            // Whatever decodes completely must re-encode to something that decodes the same.
            let encoded = packet.encode()
            var again = SocketIOPacketDecoder()
            XCTAssertEqual(try? again.decode(text: encoded.text)?.normalizedType, packet.normalizedType, encoded.text)
        }
    }
}

extension SocketIOPacket {
    /// The packet with BINARY_* folded into the plain type (the encoder picks
    /// the binary form from the content).
    fileprivate var normalizedType: SocketIOPacket {
        var copy = self
        copy.type = type.plainType
        return copy
    }
}
