import NIOCore
import XCTest

@testable import Duplex

/// Frames built by hand, byte by byte, as a peer would send them.
func rawFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, mask: [UInt8]? = [1, 2, 3, 4],
              declaredLength: UInt64? = nil) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeInteger(UInt8((fin ? 0x80 : 0) | rsv | opcode))
    let length = declaredLength ?? UInt64(payload.count)
    let maskBit: UInt8 = mask == nil ? 0 : 0x80
    if length < 126 {
        buffer.writeInteger(UInt8(length) | maskBit)
    } else if length <= 0xFFFF {
        buffer.writeInteger(126 | maskBit)
        buffer.writeInteger(UInt16(length))
    } else {
        buffer.writeInteger(127 | maskBit)
        buffer.writeInteger(length)
    }
    if let mask {
        buffer.writeBytes(mask)
        buffer.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
    } else {
        buffer.writeBytes(payload)
    }
    return buffer
}

final class FrameReceiverTests: XCTestCase {
    private func receiver(server: Bool = true, maxMessageSize: Int = 1 << 20, maxFragments: Int = 100, compression: Bool = false) -> FrameReceiver {
        FrameReceiver(configuration: .init(maxMessageSize: maxMessageSize, maxFragments: maxFragments, expectMasked: server,
                                           compressionNegotiated: compression))
    }

    /// Feeds the bytes (in chunks of `chunk`) and returns the events, or the violation.
    private func feed(_ frames: [ByteBuffer], into receiver: inout FrameReceiver, chunk: Int = .max) -> ([FrameReceiver.Event], ProtocolViolation?) {
        var all = ByteBuffer()
        for var frame in frames { all.writeBuffer(&frame) }
        var events: [FrameReceiver.Event] = []
        var pending = ByteBuffer()
        while all.readableBytes > 0 {
            var piece = all.readSlice(length: min(chunk, all.readableBytes))!
            pending.writeBuffer(&piece)
            do {
                while let event = try receiver.next(&pending) { events.append(event) }
            } catch {
                return (events, error)
            }
            pending.discardReadBytes()
        }
        return (events, nil)
    }

    private func violation(_ frames: [ByteBuffer], server: Bool = true, maxMessageSize: Int = 1 << 20, maxFragments: Int = 100,
                           chunk: Int = .max) -> ProtocolViolation? {
        var r = receiver(server: server, maxMessageSize: maxMessageSize, maxFragments: maxFragments)
        return feed(frames, into: &r, chunk: chunk).1
    }

    private func texts(_ events: [FrameReceiver.Event]) -> [String] {
        events.compactMap {
            if case .message(.text, let buffer, _) = $0 { return String(buffer: buffer) }
            return nil
        }
    }

    func testMaskedTextAnyChunking() {
        let hello = Array("Hello, wörld".utf8)
        for chunk in [1, 2, 3, 7, 1000] {
            var r = receiver()
            let (events, error) = feed([rawFrame(0x1, hello), rawFrame(0x1, hello)], into: &r, chunk: chunk)
            XCTAssertNil(error)
            XCTAssertEqual(texts(events), ["Hello, wörld", "Hello, wörld"], "chunk \(chunk)")
        }
    }

    func testPrefixedTextFramesDecodeToThePrefixAndTheText() {
        let allocator = ByteBufferAllocator()
        let cases: [(String, MaskingKey?)] = [("[\"echo\",\"é\"]", nil), (String(repeating: "x", count: 300), .random()), ("", nil)]
        for (text, mask) in cases {
            let frame = FrameEncoder.textFrame(text, prefix: UInt8(ascii: "4"), mask: mask, allocator: allocator)
            var r = receiver(server: mask != nil)
            let (events, error) = feed([frame], into: &r)
            XCTAssertNil(error)
            XCTAssertEqual(texts(events), ["4" + text])
        }
    }

    func testFragmentsWithInterleavedPing() {
        var r = receiver()
        let (events, error) = feed([
            rawFrame(0x1, Array("Hel".utf8), fin: false),
            rawFrame(0x9, Array("ping".utf8)),
            rawFrame(0x0, Array("lo".utf8), fin: false),
            rawFrame(0x0, Array("!".utf8)),
        ], into: &r, chunk: 5)
        XCTAssertNil(error)
        XCTAssertEqual(events.count, 2)
        if case .ping(let payload) = events[0] { XCTAssertEqual(String(buffer: payload), "ping") } else { XCTFail("\(events[0])") }
        XCTAssertEqual(texts(events), ["Hello!"])
    }

    func testLengthsOf16And64Bits() {
        for size in [125, 126, 65535, 65536, 200_000] {
            var r = receiver()
            let payload = [UInt8](repeating: 0x61, count: size)
            let (events, error) = feed([rawFrame(0x2, payload)], into: &r, chunk: 4096)
            XCTAssertNil(error)
            guard case .message(.binary, let buffer, false) = events.first else { return XCTFail("size \(size)") }
            XCTAssertEqual(buffer.readableBytes, size)
        }
    }

    func testProtocolErrors() {
        XCTAssertEqual(violation([rawFrame(0x1, [0x61], mask: nil)])?.code, .protocolError, "unmasked client frame")
        XCTAssertEqual(violation([rawFrame(0x1, [0x61])], server: false)?.code, .protocolError, "masked server frame")
        XCTAssertEqual(violation([rawFrame(0x1, [0x61], rsv: 0x20)])?.code, .protocolError, "RSV2")
        XCTAssertEqual(violation([rawFrame(0x1, [0x61], rsv: 0x10)])?.code, .protocolError, "RSV3")
        XCTAssertEqual(violation([rawFrame(0x1, [0x61], rsv: 0x40)])?.code, .protocolError, "RSV1 without deflate")
        for opcode: UInt8 in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            XCTAssertEqual(violation([rawFrame(opcode, [])])?.code, .protocolError, "opcode \(opcode)")
        }
        XCTAssertEqual(violation([rawFrame(0x9, [], fin: false)])?.code, .protocolError, "fragmented ping")
        XCTAssertEqual(violation([rawFrame(0x9, [UInt8](repeating: 0, count: 126))])?.code, .protocolError, "126-byte ping")
        XCTAssertEqual(violation([rawFrame(0x0, [0x61])])?.code, .protocolError, "continuation without a start")
        XCTAssertEqual(violation([rawFrame(0x1, [0x61], fin: false), rawFrame(0x1, [0x61])])?.code, .protocolError,
                       "new message inside a fragmented one")
        XCTAssertEqual(violation([rawFrame(0x2, [], declaredLength: 1 << 63)])?.code, .protocolError, "64-bit length with MSB set")
    }

    func testInvalidUTF8FailsFast() {
        // The bad byte is in the first fragment: the violation comes before the message ends.
        var r = receiver()
        let (events, error) = feed([rawFrame(0x1, [0x61, 0xC0, 0x80], fin: false)], into: &r)
        XCTAssertTrue(events.isEmpty)
        XCTAssertEqual(error?.code, .invalidFramePayloadData)
        // A sequence split across fragments is fine.
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        r = receiver()
        let split = feed([rawFrame(0x1, Array(euro[..<1]), fin: false), rawFrame(0x0, Array(euro[1...]))], into: &r)
        XCTAssertNil(split.1)
        XCTAssertEqual(texts(split.0), ["€"])
        // ...but a message ending inside one is not.
        XCTAssertEqual(violation([rawFrame(0x1, Array(euro[..<2]))])?.code, .invalidFramePayloadData)
        // Surrogates and code points above U+10FFFF.
        XCTAssertEqual(violation([rawFrame(0x1, [0xED, 0xA0, 0x80])])?.code, .invalidFramePayloadData)
        XCTAssertEqual(violation([rawFrame(0x1, [0xF4, 0x90, 0x80, 0x80])])?.code, .invalidFramePayloadData)
    }

    func testLimits() {
        XCTAssertEqual(violation([rawFrame(0x2, [UInt8](repeating: 0, count: 101))], maxMessageSize: 100)?.code, .messageTooBig)
        XCTAssertEqual(violation([rawFrame(0x2, [UInt8](repeating: 0, count: 60), fin: false),
                                  rawFrame(0x0, [UInt8](repeating: 0, count: 60))], maxMessageSize: 100)?.code, .messageTooBig)
        // A huge declared length fails before any payload arrives.
        XCTAssertEqual(violation([rawFrame(0x2, [], declaredLength: 1 << 40)], maxMessageSize: 100)?.code, .messageTooBig)
        let fragments = (0..<5).map { rawFrame($0 == 0 ? 0x2 : 0x0, [1], fin: $0 == 4) }
        XCTAssertEqual(violation(fragments, maxFragments: 4)?.code, .messageTooBig)
        XCTAssertNil(violation(fragments, maxFragments: 5))
    }

    func testClosePayloads() {
        var r = receiver()
        var (events, error) = feed([rawFrame(0x8, [0x03, 0xE8] + Array("bye".utf8))], into: &r)
        XCTAssertNil(error)
        guard case .close(let code, let reason) = events.first else { return XCTFail() }
        XCTAssertEqual(code, .normalClosure)
        XCTAssertEqual(reason, "bye")
        r = receiver()
        (events, error) = feed([rawFrame(0x8, [])], into: &r)
        guard case .close(let empty, _) = events.first else { return XCTFail() }
        XCTAssertEqual(empty, .noStatusReceived)
        XCTAssertEqual(violation([rawFrame(0x8, [0x03])])?.code, .protocolError, "1-byte close payload")
        XCTAssertEqual(violation([rawFrame(0x8, [0x03, 0xED])])?.code, .protocolError, "close code 1005")
        XCTAssertEqual(violation([rawFrame(0x8, [0x03, 0xE8, 0xFF])])?.code, .invalidFramePayloadData, "bad UTF-8 reason")
    }

    func testCloseCodeValidity() {
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999] {
            XCTAssertTrue(CloseCode(code).isValidOnWire, "\(code)")
        }
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535] {
            XCTAssertFalse(CloseCode(code).isValidOnWire, "\(code)")
        }
    }

    func testRSV1MarksCompressedMessagesOnlyWhenNegotiated() {
        var r = receiver(compression: true)
        let (events, error) = feed([rawFrame(0x1, [0xF2, 0x48], fin: false, rsv: 0x40), rawFrame(0x0, [0xCD])], into: &r)
        XCTAssertNil(error)
        guard case .message(.text, let payload, let compressed) = events.first else { return XCTFail() }
        XCTAssertTrue(compressed)
        XCTAssertEqual(Array(payload.readableBytesView), [0xF2, 0x48, 0xCD])
        // RSV1 on a continuation frame or a control frame is still an error.
        r = receiver(compression: true)
        XCTAssertEqual(feed([rawFrame(0x1, [1], fin: false, rsv: 0x40), rawFrame(0x0, [1], rsv: 0x40)], into: &r).1?.code, .protocolError)
        r = receiver(compression: true)
        XCTAssertEqual(feed([rawFrame(0x9, [], rsv: 0x40)], into: &r).1?.code, .protocolError)
    }
}

final class EncoderAndMaskingTests: XCTestCase {
    func testMaskingMatchesNaiveXORAtEveryOffset() {
        let key = MaskingKey(0x37, 0xFA, 0x21, 0x3D)
        let keyBytes: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        let source = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for offset in 0..<4 {
            for count in [0, 1, 7, 15, 16, 17, 64, 299] {
                var out = [UInt8](repeating: 0, count: count)
                source.withUnsafeBytes { src in
                    out.withUnsafeMutableBytes { dst in
                        key.apply(source: src.baseAddress!, destination: dst.baseAddress!, count: count, keyOffset: offset)
                    }
                }
                let expected = (0..<count).map { source[$0] ^ keyBytes[($0 + offset) % 4] }
                XCTAssertEqual(out, expected, "offset \(offset) count \(count)")
            }
        }
    }

    func testRFCMaskedHelloExample() {
        // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
        let frame = FrameEncoder.frame(opcode: .text, payload: ByteBuffer(string: "Hello"),
                                       mask: MaskingKey(0x37, 0xFA, 0x21, 0x3D), allocator: ByteBufferAllocator())
        XCTAssertEqual(Array(frame.readableBytesView), [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
    }

    func testRandomKeysDiffer() {
        let keys = (0..<64).map { _ in MaskingKey.random() }
        XCTAssertGreaterThan(Set(keys.map { "\($0.b0),\($0.b1),\($0.b2),\($0.b3)" }).count, 60)
    }

    func testEncodedFramesParseBack() {
        for size in [0, 5, 125, 126, 70000] {
            let payload = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0) })
            var frame = FrameEncoder.frame(opcode: .binary, payload: payload, mask: .random(), allocator: ByteBufferAllocator())
            XCTAssertEqual(frame.readableBytes, FrameEncoder.headerLength(payloadLength: size, masked: true) + size)
            var r = FrameReceiver(configuration: .init(maxMessageSize: 1 << 20, maxFragments: 10, expectMasked: true))
            guard case .message(.binary, let back, false)? = try? r.next(&frame) else { return XCTFail("size \(size)") }
            XCTAssertEqual(back, payload)
        }
    }

    func testCloseFrameReasonIsCutAtACharacterBoundary() throws {
        let reason = String(repeating: "é", count: 100)  // 200 bytes
        var frame = FrameEncoder.closeFrame(code: .goingAway, reason: reason, mask: nil, allocator: ByteBufferAllocator())
        var r = FrameReceiver(configuration: .init(maxMessageSize: 1 << 20, maxFragments: 10, expectMasked: false))
        guard case .close(let code, let cut)? = try r.next(&frame) else { return XCTFail() }
        XCTAssertEqual(code, .goingAway)
        XCTAssertEqual(cut.utf8.count, 122)
        XCTAssertTrue(reason.hasPrefix(cut))
    }

    func testUTF8Validator() {
        func valid(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { UTF8Validator.isValid($0) } }
        XCTAssertTrue(valid(Array("κόσμε ascii 𝄞 €".utf8)))
        XCTAssertTrue(valid([0xF4, 0x8F, 0xBF, 0xBF]))  // U+10FFFF
        XCTAssertFalse(valid([0xC0, 0xAF]))  // overlong
        XCTAssertFalse(valid([0xE0, 0x80, 0xAF]))  // overlong
        XCTAssertFalse(valid([0xF5, 0x80, 0x80, 0x80]))
        XCTAssertFalse(valid([0x80]))
        XCTAssertFalse(valid([0xCE]))  // truncated
    }
}
