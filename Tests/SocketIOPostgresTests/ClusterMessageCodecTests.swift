import MessagePack
import NIOCore
import SocketIO
import XCTest

@testable import SocketIOPostgres

/// The cluster messages against byte fixtures: the NOTIFY texts observed between two Node.js
/// servers (../shared/cluster/postgres-adapter-protocol.md) and the MessagePack of an
/// attachment as Python's msgpack writes it (the same bytes as Node's encoder: smallest
/// forms, keys in insertion order).
final class ClusterMessageCodecTests: XCTestCase {
    func testBroadcastIsWrittenAsTheReferenceWritesIt() {
        var options = SocketIOBroadcastOptions(rooms: ["room1"], except: ["nobody"])
        options.flags.local = true  // never published
        let message = ClusterMessage(type: .broadcast, uid: "86f44ab166f37781", nsp: "/", data: [
            "packet": SocketIOPacket.event("chat", [["text": "to room1"]]).clusterJSON,
            "opts": options.clusterJSON,
        ])
        XCTAssertEqual(message.jsonText,
                       #"{"type":3,"data":{"packet":{"type":2,"data":["chat",{"text":"to room1"}]},"opts":{"rooms":["room1"],"except":["nobody"],"flags":{}}},"uid":"86f44ab166f37781","nsp":"/"}"#)
    }

    func testHeartbeatsHaveNoDataKey() {
        XCTAssertEqual(ClusterMessage(type: .initialHeartbeat, uid: "a008229df0c44ac7", nsp: "/chat").jsonText,
                       #"{"type":1,"uid":"a008229df0c44ac7","nsp":"/chat"}"#)
    }

    func testNotificationsParseMessagesAndAttachmentPointers() throws {
        let fetch = try ClusterNotification(payload:
            #"{"type":7,"data":{"opts":{"rooms":[],"except":[],"flags":{}},"requestId":"e80a5d0c1272177c"},"uid":"86f44ab166f37781","nsp":"/","nodeId":"x"}"#)
        guard case .message(let message) = fetch else { return XCTFail("\(fetch)") }
        XCTAssertEqual(message.type, .fetchSockets)
        XCTAssertEqual(message.data?["requestId"], "e80a5d0c1272177c")
        XCTAssertEqual(try ClusterNotification(payload: #"{"uid":"86f44ab166f37781","type":3,"attachmentId":"12"}"#),
                       .attachment(uid: "86f44ab166f37781", type: 3, id: 12))
        XCTAssertEqual(try ClusterNotification(payload: #"{"uid":"u","type":3,"attachmentId":7}"#),
                       .attachment(uid: "u", type: 3, id: 7))
        XCTAssertThrowsError(try ClusterNotification(payload: #"{"uid":"u","type":3,"attachmentId":"x1"}"#))
        // Recovery: a binary or large logged broadcast, by its offset (as the function writes it).
        XCTAssertEqual(try ClusterNotification(payload: #"{"uid" : "u", "nsp" : "/", "loggedOffset" : "42"}"#),
                       .logged(uid: "u", offset: 42))
        XCTAssertThrowsError(try ClusterNotification(payload: #"{"uid":"u","nsp":"/","loggedOffset":"4x"}"#))
        XCTAssertThrowsError(try ClusterNotification(payload: #"{"type":99,"uid":"u"}"#))
        XCTAssertThrowsError(try ClusterNotification(payload: "not json"))
    }

    private static let attachmentFixture =
        "84a47479706503a46461746182a67061636b657482a47479706502a46461746192a362696e82a466726f6da27331a3627566c404deadbeefa46f70747383a5726f6f6d7390a665786365707490a5666c61677380a3756964b038366634346162313636663337373831a36e7370a12f"

    private static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    func testAttachmentsAreMessagePackMapsOfTheWholeMessage() throws {
        let message = ClusterMessage(type: .broadcast, uid: "86f44ab166f37781", nsp: "/", data: [
            "packet": SocketIOPacket.event("bin", [["from": "s1", "buf": .binary(ByteBuffer(bytes: [0xde, 0xad, 0xbe, 0xef]))]]).clusterJSON,
            "opts": SocketIOBroadcastOptions().clusterJSON,
        ])
        XCTAssertEqual(Array(buffer: message.messagePack), Self.bytes(Self.attachmentFixture))
        let decoded = try ClusterMessage(messagePack: ByteBuffer(bytes: Self.bytes(Self.attachmentFixture)))
        XCTAssertEqual(decoded, message)
        let packet = SocketIOPacket(clusterJSON: decoded.data?["packet"], namespace: "/", ackID: nil)
        XCTAssertEqual(packet?.arguments, [["from": "s1", "buf": .binary(ByteBuffer(bytes: [0xde, 0xad, 0xbe, 0xef]))]])
        XCTAssertEqual(message.attachmentHeader(id: 2), #"{"uid":"86f44ab166f37781","type":3,"attachmentId":"2"}"#)
    }

    func testWhatGoesThroughTheTable() {
        let binary = ClusterMessage(type: .broadcast, uid: "u", nsp: "/", data: ["packet": ["data": [.binary(ByteBuffer(bytes: [1]))]]])
        XCTAssertTrue(binary.needsAttachment(jsonByteCount: 50, threshold: 8000))
        let binaryResponse = ClusterMessage(type: .fetchSocketsResponse, uid: "u", nsp: "/", data: ["sockets": [.binary(ByteBuffer(bytes: [1]))]])
        XCTAssertFalse(binaryResponse.needsAttachment(jsonByteCount: 50, threshold: 8000), "only the argument-carrying kinds")
        let plain = ClusterMessage(type: .socketsJoin, uid: "u", nsp: "/", data: [:])
        XCTAssertFalse(plain.needsAttachment(jsonByteCount: 7999, threshold: 8000))
        XCTAssertTrue(plain.needsAttachment(jsonByteCount: 8000, threshold: 8000), "8000 bytes and more")
    }

    func testOptionsRoundTripAndToleratePeersInput() {
        let options = SocketIOBroadcastOptions(rooms: ["b", "a"], except: ["c"],
                                               flags: .init(volatile: true, local: false, timeout: .milliseconds(1500)))
        XCTAssertEqual(options.clusterJSON.serialized(),
                       #"{"rooms":["a","b"],"except":["c"],"flags":{"volatile":true,"timeout":1500}}"#)
        XCTAssertEqual(SocketIOBroadcastOptions(clusterJSON: options.clusterJSON), options)
        let odd = SocketIOBroadcastOptions(clusterJSON: ["rooms": [1, "r"], "flags": ["timeout": -5, "volatile": "yes"]])
        XCTAssertEqual(odd, SocketIOBroadcastOptions(rooms: ["r"]))
        XCTAssertEqual(SocketIOBroadcastOptions(clusterJSON: nil), SocketIOBroadcastOptions())
        // compress(false) travels as the reference's flag; true (the default) is not written.
        let plain = SocketIOBroadcastOptions(rooms: ["r"], flags: .init(compress: false))
        XCTAssertEqual(plain.clusterJSON.serialized(), #"{"rooms":["r"],"except":[],"flags":{"compress":false}}"#)
        XCTAssertEqual(SocketIOBroadcastOptions(clusterJSON: plain.clusterJSON), plain)
        XCTAssertTrue(SocketIOBroadcastOptions(clusterJSON: ["flags": ["compress": true]]).flags.compress)
    }

    func testMessagePackNumbersAsJavaScriptSeesThem() {
        XCTAssertEqual(JSONValue.number(3).messagePackValue, .int(3))
        XCTAssertEqual(JSONValue.number(-1.5).messagePackValue, .float(-1.5))
        XCTAssertEqual(JSONValue(messagePack: .map([(.int(1), .uint(7)), (.string("d"), .ext(type: -1, data: ByteBuffer()))])),
                       ["1": 7, "d": nil])
    }

    func testHandshakeTimeIsJavaScriptsDateString() {
        XCTAssertEqual(RemoteSocketCoding.javaScriptDate(milliseconds: 0), "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)")
        XCTAssertEqual(RemoteSocketCoding.javaScriptDate(milliseconds: 1_796_142_223_000),
                       "Tue Dec 01 2026 16:23:43 GMT+0000 (Coordinated Universal Time)")
    }

    func testPostgresURLs() throws {
        let tcp = try PostgresConnectionConfigurationProbe(url: "postgres://app:s%40cret@db.example:6543/chat")
        XCTAssertEqual(tcp.host, "db.example")
        XCTAssertEqual(tcp.port, 6543)
        XCTAssertEqual(tcp.username, "app")
        XCTAssertEqual(tcp.password, "s@cret")
        XCTAssertEqual(tcp.database, "chat")
        let socket = try PostgresConnectionConfigurationProbe(url: "postgresql://postgres@/db?host=/tmp/pg")
        XCTAssertEqual(socket.unixSocketPath, "/tmp/pg/.s.PGSQL.5432")
        XCTAssertThrowsError(try PostgresConnectionConfigurationProbe(url: "mysql://x"))
        XCTAssertThrowsError(try PostgresConnectionConfigurationProbe(url: "postgres://h:99999/db"))
        XCTAssertThrowsError(try PostgresConnectionConfigurationProbe(url: "postgres://h/db?sslmode=require"))
    }
}

import PostgresNIO

/// The parts of a configuration the URL sets.
private struct PostgresConnectionConfigurationProbe {
    let host: String?, port: Int?, unixSocketPath: String?, username: String, password: String?, database: String?
    init(url: String) throws {
        let configuration = try PostgresConnection.Configuration(url: url)
        host = configuration.host
        port = configuration.port
        unixSocketPath = configuration.unixSocketPath
        username = configuration.username
        password = configuration.password
        database = configuration.database
    }
}
