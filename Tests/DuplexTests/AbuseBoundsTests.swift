import NIOCore
import NIOHTTP1
import NIOPosix
import XCTest

#if canImport(Glibc)
import Glibc
#endif

@testable import Duplex

/// What one anonymous client can make the server hold: each test pushes past a bound.
final class AbuseBoundsTests: XCTestCase {
    // MARK: - Frames

    func testAFrameHeaderAloneReservesNoPayload() throws {
        var receiver = FrameReceiver(configuration: .init(maxMessageSize: 16 << 20, maxFragments: 16, expectMasked: true))
        // A masked binary frame announcing 16 MiB, and nothing after its header.
        var header = ByteBuffer(bytes: [0x82, 0xFF])
        header.writeInteger(UInt64(16 << 20))
        header.writeBytes([1, 2, 3, 4])
        XCTAssertNil(try receiver.next(&header))
        XCTAssertLessThanOrEqual(receiver.reservedMessageBytes, 128 * 1024, "reserved what the peer only announced")

        // Bytes that do arrive are taken as they come.
        var payload = ByteBuffer(repeating: 0x41, count: 300_000)
        XCTAssertNil(try receiver.next(&payload))
        XCTAssertEqual(receiver.bufferedMessageBytes, 300_000)
        XCTAssertLessThan(receiver.reservedMessageBytes, 1 << 20)
    }

    func testAWholeFrameInOneReadIsSizedExactly() throws {
        var receiver = FrameReceiver(configuration: .init(maxMessageSize: 16 << 20, maxFragments: 16, expectMasked: true))
        var frame = ByteBuffer(bytes: [0x82, 0xFE])
        frame.writeInteger(UInt16(40_000))
        frame.writeBytes([0, 0, 0, 0])
        frame.writeRepeatingByte(7, count: 40_000)
        guard case .message(.binary, let payload, compressed: false)? = try receiver.next(&frame) else {
            return XCTFail("no message")
        }
        XCTAssertEqual(payload.readableBytes, 40_000)
    }

    // MARK: - Memory budget

    func testTheMemoryBudgetFailsTheConnectionThatWouldPassItWith1013() async throws {
        let (server, port) = try await startEchoServer { $0.memoryBudget = 1 << 20 }
        // First holder: 700 KB of an unfinished 900 KB message, within the budget.
        let first = try await RawWebSocket.open(port: port)
        try await first.sendFrameHead(opcode: 0x2, length: 900_000)
        try await first.sendPayload(count: 700_000)
        await eventually { (server.memoryBudget?.usedBytes ?? 0) >= 700_000 }

        // Second: another 700 KB would pass 1 MiB: that connection is failed with 1013.
        let second = try await RawWebSocket.open(port: port)
        try await second.sendFrameHead(opcode: 0x2, length: 900_000)
        try await second.sendPayload(count: 700_000)
        await eventually { second.client.isClosed }
        XCTAssertEqual(second.closeCode, 1013)
        XCTAssertTrue(second.client.text.contains("memory budget"), "close reason names the budget")
        XCTAssertEqual(server.memoryBudget?.refusedCount, 1)
        XCTAssertFalse(first.client.isClosed, "the holder within the budget goes on")

        // The first finishes its message and gets it echoed; its charge is returned.
        try await first.sendPayload(count: 200_000)
        await eventually { first.client.text.utf8.count > 900_000 }
        await eventually { server.memoryBudget?.usedBytes == 0 }
        await server.close(timeout: .milliseconds(50))
    }

    func testRequestBodiesCountAgainstTheBudget() async throws {
        let (server, port) = try await startEchoServer { configuration in
            configuration.memoryBudget = 64 * 1024
            configuration.httpHandler = { request in request.eventLoop.makeSucceededFuture(HTTPResponse(body: "ok\n")) }
        }
        let client = try await RawClient(port: port)
        try await client.send("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 200000\r\n\r\n")
        try await client.send(ByteBuffer(repeating: 0x61, count: 100_000))
        await eventually { client.isClosed }
        XCTAssertTrue(client.text.hasPrefix("HTTP/1.1 503"), client.text)
        XCTAssertTrue(client.text.contains("memory budget"), client.text)
        await eventually { server.memoryBudget?.usedBytes == 0 }
        await server.close()
    }

    // MARK: - Plain HTTP backpressure

    func testPipelinedRequestsThatAreNeverReadStopTheServerReading() async throws {
        let page = String(repeating: "p", count: 16 * 1024)
        let (server, port) = try await startEchoServer { configuration in
            configuration.httpHandler = { request in request.eventLoop.makeSucceededFuture(HTTPResponse(body: page)) }
        }
        let request = Array("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        let total = 64 << 20
        let accepted = try StallingSender.send(port: port, chunk: request, total: total)
        // Without backpressure the server reads all 64 MB and queues 30 GB of responses;
        // with it, only what the kernel's socket buffers hold is ever sent.
        XCTAssertLessThan(accepted, 24 << 20, "the server kept reading requests whose responses were never read")

        // Others are still served.
        let other = try await RawClient(port: port)
        try await other.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await eventually { other.text.utf8.count > 16 * 1024 }
        XCTAssertTrue(other.text.hasPrefix("HTTP/1.1 200"))
        await server.close()
    }

    func testRequestsBehindAHeldLongPollStopTheServerReading() async throws {
        let (server, port) = try await startEchoServer { configuration in
            configuration.httpHandler = { request in
                if request.path == "/poll" {
                    // Held until the connection ends, as a long poll without news.
                    let promise = request.eventLoop.makePromise(of: HTTPResponse.self)
                    request.connectionClosed.whenComplete { _ in promise.succeed(HTTPResponse(body: "")) }
                    return promise.futureResult
                }
                return request.eventLoop.makeSucceededFuture(HTTPResponse(body: "ok\n"))
            }
        }
        var chunk = Array("GET /poll HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        let filler = Array("POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4000\r\n\r\n".utf8) + Array(repeating: UInt8(ascii: "b"), count: 4000)
        chunk += filler
        let accepted = try StallingSender.send(port: port, chunk: chunk, total: 96 << 20)
        XCTAssertLessThan(accepted, 24 << 20, "requests queued without bound behind the held poll")
        await server.close()
    }

    // MARK: - Origins and hosts

    private func handshake(port: Int, host: String = "127.0.0.1", origin: String?) async throws -> String {
        let client = try await RawClient(port: port)
        var request = "GET /chat HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let origin { request += "Origin: \(origin)\r\n" }
        try await client.send(request + "\r\n")
        await eventually { client.text.contains("\r\n\r\n") }
        return client.text
    }

    func testForeignOriginsAreRefusedByDefault() async throws {
        let (server, port) = try await startEchoServer()
        let foreign = try await handshake(port: port, host: "127.0.0.1:\(port)", origin: "http://evil.example")
        XCTAssertTrue(foreign.hasPrefix("HTTP/1.1 403"), foreign)
        XCTAssertTrue(foreign.contains("origin not allowed"), foreign)
        XCTAssertTrue(foreign.lowercased().contains("x-content-type-options: nosniff"), foreign)
        let own = try await handshake(port: port, host: "127.0.0.1:\(port)", origin: "http://127.0.0.1:\(port)")
        XCTAssertTrue(own.hasPrefix("HTTP/1.1 101"), own)
        let none = try await handshake(port: port, host: "127.0.0.1:\(port)", origin: nil)
        XCTAssertTrue(none.hasPrefix("HTTP/1.1 101"), none)
        let null = try await handshake(port: port, host: "127.0.0.1:\(port)", origin: "null")
        XCTAssertTrue(null.hasPrefix("HTTP/1.1 403"), null)
        await server.close(timeout: .milliseconds(50))
    }

    func testAllowedOriginsPass() async throws {
        let (server, port) = try await startEchoServer { $0.allowedOrigins = .sameOrigin(alsoAllow: ["https://app.example"]) }
        let listed = try await handshake(port: port, origin: "https://app.example")
        XCTAssertTrue(listed.hasPrefix("HTTP/1.1 101"), listed)
        let other = try await handshake(port: port, origin: "https://other.example")
        XCTAssertTrue(other.hasPrefix("HTTP/1.1 403"), other)
        await server.close(timeout: .milliseconds(50))
        let (open, openPort) = try await startEchoServer { $0.allowedOrigins = .any }
        let any = try await handshake(port: openPort, origin: "https://other.example")
        XCTAssertTrue(any.hasPrefix("HTTP/1.1 101"), any)
        await open.close(timeout: .milliseconds(50))
    }

    func testALoopbackServerRefusesForeignHostNames() async throws {
        let (server, port) = try await startEchoServer { $0.allowedHosts = ["chat.test"] }
        let rebound = try await handshake(port: port, host: "attacker.example:\(port)", origin: nil)
        XCTAssertTrue(rebound.hasPrefix("HTTP/1.1 403"), rebound)
        XCTAssertTrue(rebound.contains("host not allowed"), rebound)
        for host in ["localhost:\(port)", "127.0.0.1", "[::1]:\(port)", "chat.test:\(port)"] {
            let answer = try await handshake(port: port, host: host, origin: nil)
            XCTAssertTrue(answer.hasPrefix("HTTP/1.1 101"), "\(host): \(answer)")
        }
        await server.close(timeout: .milliseconds(50))
    }

    func testOriginRules() {
        XCTAssertTrue(RequestPolicy.isSameOrigin("http://localhost:3000", host: "LOCALHOST:3000"))
        XCTAssertTrue(RequestPolicy.isSameOrigin("https://chat.example", host: "chat.example"))
        XCTAssertTrue(RequestPolicy.isSameOrigin("https://chat.example", host: "chat.example:443"))
        XCTAssertFalse(RequestPolicy.isSameOrigin("https://chat.example", host: "chat.example:80"))
        XCTAssertFalse(RequestPolicy.isSameOrigin("http://chat.example.evil", host: "chat.example"))
        XCTAssertTrue(RequestPolicy.isSameOrigin("http://[::1]:8080", host: "[::1]:8080"))
        XCTAssertTrue(RequestPolicy.isLoopback("127.1.2.3:80"))
        XCTAssertTrue(RequestPolicy.isLoopback("app.localhost"))
        XCTAssertFalse(RequestPolicy.isLoopback("127.0.0.1.evil.example"))
        XCTAssertFalse(RequestPolicy.isLoopback("localhost.evil.example"))
    }

    // MARK: - Responses

    func testAResponseHeaderWithCRLFIsNeverSent() async throws {
        let (server, port) = try await startEchoServer { configuration in
            configuration.httpHandler = { request in
                // An app copies a decoded query value into a header.
                let value = request.query["next"] ?? ""
                return request.eventLoop.makeSucceededFuture(HTTPResponse(status: .found, headers: ["Location": value], body: ""))
            }
        }
        let client = try await RawClient(port: port)
        try await client.send("GET /go?next=%2Fhome%0D%0ASet-Cookie:%20session%3Dstolen HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await eventually { client.text.contains("\r\n\r\n") }
        XCTAssertTrue(client.text.hasPrefix("HTTP/1.1 500"), client.text)
        XCTAssertFalse(client.text.lowercased().contains("set-cookie"), client.text)
        await server.close()
    }

    func testErrorResponsesAreNotSniffed() async throws {
        let (server, port) = try await startEchoServer()
        let plain = try await RawClient(port: port)
        try await plain.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  // 426: this is a WebSocket endpoint
        await eventually { plain.text.contains("\r\n\r\n") }
        XCTAssertTrue(plain.text.hasPrefix("HTTP/1.1 426"), plain.text)
        XCTAssertTrue(plain.text.lowercased().contains("x-content-type-options: nosniff"), plain.text)
        let malformed = try await RawClient(port: port)
        try await malformed.send("GARBAGE / \u{01}HTTP/9\r\n\r\n")
        await eventually { malformed.isClosed }
        XCTAssertTrue(malformed.text.lowercased().contains("x-content-type-options: nosniff"), malformed.text)
        await server.close()
    }
}

/// A WebSocket opened by hand, to send frames as an attacker would (partial ones too).
struct RawWebSocket {
    let client: RawClient

    static func open(port: Int, path: String = "/") async throws -> RawWebSocket {
        let client = try await RawClient(port: port)
        try await client.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        await eventually { client.text.contains("\r\n\r\n") }
        XCTAssertTrue(client.text.hasPrefix("HTTP/1.1 101"), client.text)
        return RawWebSocket(client: client)
    }

    func sendFrameHead(opcode: UInt8, length: Int, fin: Bool = true) async throws {
        var header = ByteBuffer()
        FrameEncoder.writeHeader(into: &header, opcode: Opcode(rawValue: opcode)!, fin: fin, length: length, mask: MaskingKey(0, 0, 0, 0))
        try await client.send(header)
    }

    /// Payload bytes (the zero mask leaves them as they are).
    func sendPayload(count: Int) async throws {
        try await client.send(ByteBuffer(repeating: 0x42, count: count))
    }

    /// The code of the server's close frame, when it sent one.
    var closeCode: Int? {
        guard let rest = client.bodyAfterHead, let frame = Array(rest.readableBytesView).firstIndex(of: 0x88) else { return nil }
        let bytes = Array(rest.readableBytesView)
        guard bytes.count >= frame + 4 else { return nil }
        return Int(bytes[frame + 2]) << 8 | Int(bytes[frame + 3])
    }
}

/// Writes `chunk` over and over on a non-blocking socket that never reads, until `total`
/// bytes are sent or the peer stops taking them for a second; returns the bytes sent.
enum StallingSender {
    static func send(port: Int, chunk: [UInt8], total: Int) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)

        var block: [UInt8] = []
        while block.count < 64 * 1024 { block += chunk }
        var sent = 0
        var stalledSince: ContinuousClock.Instant?
        let deadline = ContinuousClock.now + .seconds(20)
        while sent < total, ContinuousClock.now < deadline {
            let n = block.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, min($0.count, total - sent), Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
                stalledSince = nil
                continue
            }
            if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK { break }  // the server dropped us: also a bound
            let now = ContinuousClock.now
            if let since = stalledSince {
                if now - since > .seconds(1) { break }
            } else {
                stalledSince = now
            }
            usleep(2_000)
        }
        return sent
    }
}
