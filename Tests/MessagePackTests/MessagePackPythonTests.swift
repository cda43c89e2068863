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
        // Input and output through files: pipes both ways would deadlock once both are full.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("msgpack-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputURL = directory.appendingPathComponent("in"), outputURL = directory.appendingPathComponent("out")
        let errorURL = directory.appendingPathComponent("err")
        try Data(input.utf8).write(to: inputURL)
        FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = ["-c", script]
        process.standardInput = try FileHandle(forReadingFrom: inputURL)
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        try process.run()
        process.waitUntilExit()
        let output = try Data(contentsOf: outputURL)
        let errors = try Data(contentsOf: errorURL)
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
        guard lines.count == samples.count else { return XCTFail("\(lines.count) lines") }
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
                  [1, [2, [3]]], {"a": 1, "b": [None]}, msgpack.Timestamp(2)]
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
        guard lines.count == expected.count else { return XCTFail("\(lines.count) lines: \(lines)") }
        for (value, line) in zip(expected, lines) {
            XCTAssertEqual(try MessagePackValue(decoding: Self.unhex(line)), value, String(line))
        }
        XCTAssertEqual(Array(buffer: MessagePackValue.float(1.25).encoded()), Self.unhex(lines[6]))
    }
}
