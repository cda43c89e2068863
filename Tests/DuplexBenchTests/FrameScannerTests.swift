import NIOCore
import XCTest

@testable import DuplexBench

final class FrameScannerTests: XCTestCase {
    private func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if payload.count <= 125 {
            bytes.append(UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            bytes += [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            bytes.append(127)
            bytes += (0..<8).map { UInt8((UInt64(payload.count) >> (56 - 8 * UInt64($0))) & 0xFF) }
        }
        return bytes + payload
    }

    /// Feeds `bytes` in chunks of `chunk` bytes and returns the events with the captured heads.
    private func scan(_ bytes: [UInt8], chunk: Int, capture: Int = 8) throws -> [(FrameScanner.Event, String)] {
        var scanner = FrameScanner(captureLimit: capture)
        var events: [(FrameScanner.Event, String)] = []
        var offset = 0
        while offset < bytes.count {
            var input = ByteBuffer(bytes: bytes[offset..<min(bytes.count, offset + chunk)])
            offset += chunk
            while let event = try scanner.next(&input) {
                events.append((event, event == .ping ? String(buffer: scanner.control) : String(buffer: scanner.captured)))
            }
            XCTAssertEqual(input.readableBytes, 0)
        }
        return events
    }

    func testMessagesSplitAnywhere() throws {
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 70_000)
        let medium = [UInt8](repeating: UInt8(ascii: "y"), count: 300)
        let stream = frame(1, Array("hello world".utf8)) + frame(2, medium) + frame(9, Array("hb".utf8))
            + frame(1, Array("frag".utf8), fin: false) + frame(9, Array("in".utf8)) + frame(0, Array("ment".utf8))
            + frame(2, big) + frame(1, [])
        for chunk in [1, 2, 3, 7, 64, 1000, stream.count] {
            let events = try scan(stream, chunk: chunk)
            XCTAssertEqual(events.map(\.0), [
                .message(opcode: 1, length: 11), .message(opcode: 2, length: 300), .ping,
                .ping, .message(opcode: 1, length: 8), .message(opcode: 2, length: 70_000), .message(opcode: 1, length: 0),
            ], "chunk \(chunk)")
            XCTAssertEqual(events.map(\.1), ["hello wo", "yyyyyyyy", "hb", "in", "fragment", "xxxxxxxx", ""], "chunk \(chunk)")
        }
    }

    func testCloseAndViolations() throws {
        XCTAssertEqual(try scan(frame(8, [0x03, 0xE8]), chunk: 1).map(\.0), [.close])
        var scanner = FrameScanner(captureLimit: 0)
        var masked = ByteBuffer(bytes: [0x81, 0x81, 1, 2, 3, 4, 5])
        XCTAssertThrowsError(try scanner.next(&masked))
        scanner = FrameScanner(captureLimit: 0)
        var orphan = ByteBuffer(bytes: frame(0, [1]))
        XCTAssertThrowsError(try scanner.next(&orphan))
    }

    func testClientFramesAreMasked() {
        let frame = ClientWire.maskedFrame(opcode: 1, payload: Array("abcdef".utf8), allocator: ByteBufferAllocator())
        let bytes = Array(frame.readableBytesView)
        XCTAssertEqual(bytes[0], 0x81)
        XCTAssertEqual(bytes[1], 0x80 | 6)
        let key = Array(bytes[2..<6])
        let unmasked = bytes[6...].enumerated().map { $0.element ^ key[$0.offset % 4] }
        XCTAssertEqual(String(decoding: unmasked, as: UTF8.self), "abcdef")
    }

    func testBroadcastStampRoundTrip() {
        for template in [BroadcastTemplate(size: 40), BroadcastTemplate(size: 30, prefix: Array("42[\"broadcast\",\"".utf8), suffix: Array("\"]".utf8), receivedOffset: nil)] {
            var frame = ByteBuffer()
            template.frame(into: &frame, sentAt: 0x0123_4567_89ab_cdef, publisher: 0xbeef)
            var bytes = Array(frame.readableBytesView)
            let headerLength = 2 + 4
            let key = Array(bytes[2..<6])
            for index in headerLength..<bytes.count { bytes[index] ^= key[(index - headerLength) % 4] }
            var payload = String(decoding: bytes[headerLength...], as: UTF8.self)
            if template.receivedOffset == nil {
                XCTAssertTrue(payload.hasPrefix("42[\"broadcast\",\"0123456789abcdef0000beef"), payload)
                XCTAssertTrue(payload.hasSuffix("\"]"), payload)
                payload = payload.replacingOccurrences(of: "broadcast", with: "message")
            } else {
                XCTAssertEqual(payload.count, 40)
            }
            let parsed = template.parse(ByteBuffer(string: payload))
            XCTAssertEqual(parsed?.sentAt, 0x0123_4567_89ab_cdef)
            XCTAssertEqual(parsed?.publisher, 0xbeef)
        }
    }
}
