import MessagePack
import NIOCore
import XCTest

/// The codec against the format's byte layouts, and its bounds on hostile input.
final class MessagePackTests: XCTestCase {
    private func bytes(_ value: MessagePackValue) -> [UInt8] {
        Array(buffer: value.encoded())
    }

    private func decode(_ bytes: [UInt8], maxDepth: Int = MessagePackValue.defaultMaxDepth) throws -> MessagePackValue {
        try MessagePackValue(decoding: bytes, maxDepth: maxDepth)
    }

    func testIntegersUseTheShortestForm() {
        XCTAssertEqual(bytes(.int(0)), [0x00])
        XCTAssertEqual(bytes(.int(127)), [0x7f])
        XCTAssertEqual(bytes(.int(128)), [0xcc, 0x80])
        XCTAssertEqual(bytes(.int(256)), [0xcd, 0x01, 0x00])
        XCTAssertEqual(bytes(.int(65_536)), [0xce, 0x00, 0x01, 0x00, 0x00])
        XCTAssertEqual(bytes(.uint(1 << 32)), [0xcf, 0, 0, 0, 1, 0, 0, 0, 0])
        XCTAssertEqual(bytes(.int(-1)), [0xff])
        XCTAssertEqual(bytes(.int(-32)), [0xe0])
        XCTAssertEqual(bytes(.int(-33)), [0xd0, 0xdf])
        XCTAssertEqual(bytes(.int(-129)), [0xd1, 0xff, 0x7f])
        XCTAssertEqual(bytes(.int(-32_769)), [0xd2, 0xff, 0xff, 0x7f, 0xff])
        XCTAssertEqual(bytes(.int(Int64.min)), [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0])
    }

    func testScalarsStringsAndBinaries() throws {
        XCTAssertEqual(bytes(.nil), [0xc0])
        XCTAssertEqual(bytes(.bool(true)), [0xc3])
        XCTAssertEqual(bytes(.float(1.5)), [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(bytes(.string("hi")), [0xa2, 0x68, 0x69])
        XCTAssertEqual(bytes(.string(String(repeating: "a", count: 32))).prefix(2), [0xd9, 32])
        XCTAssertEqual(bytes(.string(String(repeating: "a", count: 256))).prefix(3), [0xda, 0x01, 0x00])
        XCTAssertEqual(bytes(.binary(ByteBuffer(bytes: [0xde, 0xad]))), [0xc4, 0x02, 0xde, 0xad])
        XCTAssertEqual(try decode([0xca, 0x3f, 0xc0, 0x00, 0x00]), .float(1.5), "float 32 widens")
        XCTAssertEqual(try decode([0xa3, 0xe2, 0x82, 0xac]), .string("€"))
    }

    func testContainersAndExtensions() throws {
        let map: MessagePackValue = .map([(.string("a"), .array([.int(1), .nil])), (.int(2), .bool(false))])
        XCTAssertEqual(bytes(map), [0x82, 0xa1, 0x61, 0x92, 0x01, 0xc0, 0x02, 0xc2])
        XCTAssertEqual(try decode(bytes(map)), map)
        XCTAssertEqual(map["a"], .array([.int(1), .nil]))
        let array = MessagePackValue.array(Array(repeating: .int(1), count: 16))
        XCTAssertEqual(bytes(array).prefix(3), [0xdc, 0x00, 0x10])
        let timestamp = MessagePackValue.ext(type: -1, data: ByteBuffer(bytes: [0, 0, 0, 1]))
        XCTAssertEqual(bytes(timestamp), [0xd6, 0xff, 0, 0, 0, 1])
        XCTAssertEqual(try decode(bytes(timestamp)), timestamp)
        let odd = MessagePackValue.ext(type: 5, data: ByteBuffer(bytes: [1, 2, 3]))
        XCTAssertEqual(bytes(odd), [0xc7, 0x03, 0x05, 1, 2, 3])
        XCTAssertEqual(try decode(bytes(odd)), odd)
    }

    func testRoundTripsEveryLengthClass() throws {
        for count in [0, 15, 16, 255, 256, 65_535, 65_536] {
            let value = MessagePackValue.array([
                .string(String(repeating: "x", count: count)),
                .binary(ByteBuffer(repeating: 7, count: count)),
                .array(Array(repeating: .nil, count: min(count, 70_000))),
            ])
            XCTAssertEqual(try decode(bytes(value)), value, "length \(count)")
        }
    }

    // MARK: - Bad input

    private func assertFails(_ bytes: [UInt8], _ reason: MessagePackError.Reason, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try decode(bytes), file: file, line: line) { error in
            XCTAssertEqual((error as? MessagePackError)?.reason, reason, file: file, line: line)
        }
    }

    func testLengthPrefixesBeyondTheInputAreRefusedWithoutAllocating() {
        // 4 GiB announced, 3 bytes present: refused before any allocation of that size.
        assertFails([0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3], .truncated)
        assertFails([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61], .truncated)
        assertFails([0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], .truncated)
        // 4 billion elements announced: fails at the first missing one (a reservation of that
        // many slots would abort the process).
        assertFails([0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0], .truncated)
        assertFails([0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0], .truncated)
        assertFails([0xcd, 0x01], .truncated)
        assertFails([], .truncated)
    }

    func testNestingIsLimited() throws {
        let nested = [UInt8](repeating: 0x91, count: 100) + [0xc0]
        XCTAssertThrowsError(try decode(nested)) { error in
            XCTAssertEqual((error as? MessagePackError)?.reason, .tooDeep)
        }
        XCTAssertNoThrow(try decode(nested, maxDepth: 101))
        // Deep input is refused long before the stack is at risk.
        assertFails([UInt8](repeating: 0x81, count: 1_000_000), .tooDeep)
    }

    func testOtherBadInput() {
        assertFails([0xc1], .invalidByte(0xc1))
        assertFails([0xa2, 0xff, 0xfe], .invalidUTF8)
        assertFails([0xc0, 0xc0], .trailingBytes)
    }
}
