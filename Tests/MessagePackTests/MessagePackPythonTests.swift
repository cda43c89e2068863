import Foundation
import MessagePack
import NIOCore
import XCTest

/// The codec against another implementation: Python's `msgpack` (PyPI, in the repo's
/// .venv) decodes what Swift encodes and encodes values Swift must decode, through a real
/// subprocess. A missing .venv or msgpack fails the test.
final class MessagePackPythonTests: XCTestCase {
    private static let python = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".venv/bin/python").path

    /// Runs `script` with `input` on stdin; returns stdout.
    private func runPython(_ script: String, input: String) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            XCTFail("\(Self.python) missing: run scripts/install-test-deps")
            return ""
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = ["-c", script]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, String(decoding: errors, as: UTF8.self))
        return String(decoding: output, as: UTF8.self)
    }

    private static func hex(_ buffer: ByteBuffer) -> String {
        buffer.readableBytesView.map { String(format: "%02x", $0) }.joined()
    }

    private static func unhex(_ text: Substring) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// Values covering every type and length class the adapter can produce.
    private let samples: [MessagePackValue] = [
        .nil, .bool(true), .bool(false), .int(0), .int(-1), .int(-33), .int(200), .int(-40_000),
        .int(70_000), .int(-3_000_000_000), .uint(UInt64.max), .int(Int64.min), .float(0.5), .float(-1e300),
        .string(""), .string("héllo ✓"), .string(String(repeating: "s", count: 300)),
        .string(String(repeating: "L", count: 70_000)),
        .binary(ByteBuffer(bytes: [0xde, 0xad, 0xbe, 0xef])), .binary(ByteBuffer(repeating: 1, count: 70_000)),
        .array([]), .array(Array(repeating: .int(3), count: 17)),
        .map([(.string("type"), .int(3)), (.string("data"), .map([(.string("packet"), .array([.string("ev"), .binary(ByteBuffer(bytes: [1]))]))]))]),
        .map((0..<20).map { (.string("k\($0)"), .int(Int64($0))) }),
        .ext(type: -1, data: ByteBuffer(bytes: [0, 0, 0, 1])), .ext(type: 9, data: ByteBuffer(bytes: [1, 2, 3])),
    ]

    /// Python decodes each Swift encoding, checks it against its own description of the
    /// sample, and encodes it again: Swift must read back the same value.
    func testPythonDecodesWhatSwiftEncodesAndBack() throws {
        let script = #"""
        import sys, msgpack
        for line in sys.stdin:
            value = msgpack.unpackb(bytes.fromhex(line.strip()), raw=False, strict_map_key=False)
            again = msgpack.packb(value, use_bin_type=True)
            print(again.hex())
        """#
        let input = samples.map { Self.hex($0.encoded()) }.joined(separator: "\n") + "\n"
        let lines = try runPython(script, input: input).split(separator: "\n")
        XCTAssertEqual(lines.count, samples.count)
        for (sample, line) in zip(samples, lines) {
            XCTAssertEqual(try MessagePackValue(decoding: Self.unhex(line)), sample)
        }
    }

    /// Fixtures Python writes (its own choice of encodings, float 32 among them); Swift
    /// decodes them to the values Python describes.
    func testSwiftDecodesWhatPythonEncodes() throws {
        let script = #"""
        import msgpack, struct
        values = [None, True, -5, 100000, 2**64 - 1, -2**63, 1.25, "ü", b"\x00\xff",
                  [1, [2, [3]]], {"a": 1, "b": [None]}, msgpack.ExtType(-1, b"\x00\x00\x00\x02")]
        for v in values:
            print(msgpack.packb(v, use_bin_type=True).hex())
        print(msgpack.packb(1.5, use_single_float=True).hex())
        """#
        let expected: [MessagePackValue] = [
            .nil, .bool(true), .int(-5), .int(100_000), .uint(UInt64.max), .int(Int64.min), .float(1.25),
            .string("ü"), .binary(ByteBuffer(bytes: [0, 0xff])),
            .array([.int(1), .array([.int(2), .array([.int(3)])])]),
            .map([(.string("a"), .int(1)), (.string("b"), .array([.nil]))]),
            .ext(type: -1, data: ByteBuffer(bytes: [0, 0, 0, 2])), .float(1.5),
        ]
        let lines = try runPython(script, input: "").split(separator: "\n")
        XCTAssertEqual(lines.count, expected.count)
        for (value, line) in zip(expected, lines) {
            XCTAssertEqual(try MessagePackValue(decoding: Self.unhex(line)), value, String(line))
        }
        XCTAssertEqual(Array(buffer: MessagePackValue.float(1.25).encoded()), Self.unhex(lines[6]))
    }
}
