import CompressNIO
import NIOCore
import XCTest

@testable import Duplex

final class ExtensionHeaderTests: XCTestCase {
    func testParsing() throws {
        let offers = try ExtensionHeader.parse([
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
            "permessage-deflate;server_no_context_takeover ; client_max_window_bits=\"12\", x-webkit-deflate-frame",
        ])
        XCTAssertEqual(offers.map(\.name), ["permessage-deflate", "permessage-deflate", "x-webkit-deflate-frame"])
        XCTAssertEqual(offers[0].parameters.map(\.name), ["client_max_window_bits", "server_max_window_bits"])
        XCTAssertEqual(offers[0].parameters.map(\.value), [nil, "10"])
        XCTAssertEqual(offers[1].parameters.map(\.value), [nil, "12"])
        XCTAssertEqual(try ExtensionHeader.parse(" , permessage-deflate ,, ").map(\.name), ["permessage-deflate"])
        XCTAssertEqual(offers[0].description, "permessage-deflate; client_max_window_bits; server_max_window_bits=10")
    }

    func testMalformed() {
        for bad in ["permessage-deflate;", "permessage-deflate; =1", "permessage deflate", "; x", "a; b=", "a; b=\"1 2\"",
                    "a; b=\"unterminated", "a@b", "a; b=c d"] {
            XCTAssertThrowsError(try ExtensionHeader.parse(bad), bad)
        }
    }
}

final class NegotiationTests: XCTestCase {
    private func accept(_ header: String, _ options: PerMessageDeflateOptions = .shared) throws -> (response: String, agreement: DeflateAgreement)? {
        PerMessageDeflateNegotiation.accept(offers: try ExtensionHeader.parse(header), options: options)
    }

    func testSharedModeAlwaysAsksForNoContextTakeover() throws {
        let result = try XCTUnwrap(try accept("permessage-deflate; client_max_window_bits"))
        XCTAssertEqual(result.response, "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        XCTAssertEqual(result.agreement, DeflateAgreement(sendNoContextTakeover: true, sendWindowBits: 15,
                                                          receiveNoContextTakeover: true, receiveWindowBits: 15))
    }

    func testContextTakeoverModeHonoursTheOffer() throws {
        var result = try XCTUnwrap(try accept("permessage-deflate", .contextTakeover))
        XCTAssertEqual(result.response, "permessage-deflate")
        XCTAssertEqual(result.agreement, DeflateAgreement(sendNoContextTakeover: false, sendWindowBits: 15,
                                                          receiveNoContextTakeover: false, receiveWindowBits: 15))
        result = try XCTUnwrap(try accept("permessage-deflate; server_no_context_takeover; server_max_window_bits=9", .contextTakeover))
        XCTAssertEqual(result.response, "permessage-deflate; server_no_context_takeover; server_max_window_bits=9")
        XCTAssertTrue(result.agreement.sendNoContextTakeover)
        XCTAssertEqual(result.agreement.sendWindowBits, 9)
        // The server limits the client's window when the client allows it.
        var options = PerMessageDeflateOptions.contextTakeover
        options.peerMaxWindowBits = 10
        result = try XCTUnwrap(try accept("permessage-deflate; client_max_window_bits", options))
        XCTAssertEqual(result.response, "permessage-deflate; client_max_window_bits=10")
        XCTAssertEqual(result.agreement.receiveWindowBits, 10)
        result = try XCTUnwrap(try accept("permessage-deflate", options))
        XCTAssertEqual(result.response, "permessage-deflate", "no client_max_window_bits unless offered")
        // Our own window below 15 is announced.
        options = .contextTakeover
        options.maxWindowBits = 12
        result = try XCTUnwrap(try accept("permessage-deflate", options))
        XCTAssertEqual(result.response, "permessage-deflate; server_max_window_bits=12")
    }

    func testInvalidOffersAreDeclinedAndTheNextOneTried() throws {
        for bad in ["permessage-deflate; foo", "permessage-deflate; server_max_window_bits",
                    "permessage-deflate; server_max_window_bits=16", "permessage-deflate; server_max_window_bits=7",
                    "permessage-deflate; server_max_window_bits=08", "permessage-deflate; client_max_window_bits=abc",
                    "permessage-deflate; server_no_context_takeover=1",
                    "permessage-deflate; client_no_context_takeover; client_no_context_takeover", "x-other"] {
            XCTAssertNil(try accept(bad), bad)
        }
        let fallback = try XCTUnwrap(try accept("permessage-deflate; bogus, permessage-deflate; server_max_window_bits=11"))
        XCTAssertEqual(fallback.agreement.sendWindowBits, 11)
    }

    func testWindowEightIsAcceptedButNotCompressed() throws {
        let result = try XCTUnwrap(try accept("permessage-deflate; server_max_window_bits=8"))
        XCTAssertEqual(result.agreement.sendWindowBits, 8)
        let codec = PerMessageDeflateCodec(agreement: result.agreement, options: .shared)
        XCTAssertFalse(codec.canCompress)
        XCTAssertFalse(codec.shouldCompress(count: 1 << 20))
    }

    func testClientOfferAndResponseChecks() throws {
        XCTAssertEqual(PerMessageDeflateNegotiation.offer(options: .shared),
                       "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits")
        XCTAssertEqual(PerMessageDeflateNegotiation.offer(options: .contextTakeover), "permessage-deflate; client_max_window_bits")

        let agreement = try XCTUnwrap(PerMessageDeflateNegotiation.checkResponse(
            ["permessage-deflate; server_no_context_takeover; client_max_window_bits=10"], options: .contextTakeover))
        XCTAssertEqual(agreement, DeflateAgreement(sendNoContextTakeover: false, sendWindowBits: 10,
                                                   receiveNoContextTakeover: true, receiveWindowBits: 15))
        XCTAssertNil(try PerMessageDeflateNegotiation.checkResponse([], options: .shared))

        let failing: [([String], PerMessageDeflateOptions?)] = [
            (["permessage-deflate"], nil),  // not offered
            (["x-webkit-deflate-frame"], .shared),
            (["permessage-deflate, permessage-deflate"], .shared),
            (["permessage-deflate; client_max_window_bits"], .shared),  // needs a value in a response
            (["permessage-deflate; mystery"], .shared),
            (["permessage-deflate; server_max_window_bits=99"], .shared),
            (["permessage-deflate;"], .shared),
        ]
        for (values, options) in failing {
            XCTAssertThrowsError(try PerMessageDeflateNegotiation.checkResponse(values, options: options), "\(values)")
        }
        var limited = PerMessageDeflateOptions.shared
        limited.peerMaxWindowBits = 10
        XCTAssertThrowsError(try PerMessageDeflateNegotiation.checkResponse(["permessage-deflate; server_max_window_bits=12"], options: limited))
        XCTAssertNoThrow(try PerMessageDeflateNegotiation.checkResponse(["permessage-deflate; server_max_window_bits=9"], options: limited))
    }
}

final class DeflateCodecTests: XCTestCase {
    let allocator = ByteBufferAllocator()
    let stateless = DeflateAgreement(sendNoContextTakeover: true, sendWindowBits: 15, receiveNoContextTakeover: true, receiveWindowBits: 15)
    let takeover = DeflateAgreement(sendNoContextTakeover: false, sendWindowBits: 15, receiveNoContextTakeover: false, receiveWindowBits: 15)

    /// The payload of a frame built by the codec, and whether RSV1 was set.
    private func payload(of frame: ByteBuffer) throws -> (ByteBuffer, Bool) {
        var frame = frame
        var receiver = FrameReceiver(configuration: .init(maxMessageSize: 1 << 24, maxFragments: 10, expectMasked: false, compressionNegotiated: true))
        guard case .message(_, let payload, let compressed)? = try receiver.next(&frame) else { throw ProtocolViolation(.protocolError, "no message") }
        return (payload, compressed)
    }

    func testRFC7692HelloExample() throws {
        // RFC 7692 §7.2.3.1: "Hello" compressed without context takeover.
        var codec = PerMessageDeflateCodec(agreement: stateless, options: .shared)
        let frame = try codec.compressedFrame(.text("Hello"), mask: nil, allocator: allocator)
        XCTAssertEqual(Array(frame.readableBytesView), [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        var wire = ByteBuffer(bytes: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        XCTAssertEqual(String(buffer: try codec.inflate(&wire, maxSize: 100, allocator: allocator)), "Hello")
        // The same message in two deflate blocks (§7.2.3.5) and with BFINAL set (§7.2.3.4).
        wire = ByteBuffer(bytes: [0xF2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xCA, 0xC9, 0xC9, 0x07, 0x00])
        XCTAssertEqual(String(buffer: try codec.inflate(&wire, maxSize: 100, allocator: allocator)), "Hello")
        wire = ByteBuffer(bytes: [0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00])
        XCTAssertEqual(String(buffer: try codec.inflate(&wire, maxSize: 100, allocator: allocator)), "Hello")
        // An uncompressed (stored) block (§7.2.3.3).
        wire = ByteBuffer(bytes: [0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00])
        XCTAssertEqual(String(buffer: try codec.inflate(&wire, maxSize: 100, allocator: allocator)), "Hello")
    }

    func testContextTakeoverShrinksRepeatedMessages() throws {
        var sender = PerMessageDeflateCodec(agreement: takeover, options: .contextTakeover)
        var receiver = PerMessageDeflateCodec(agreement: takeover, options: .contextTakeover)
        let text = String(repeating: "the quick brown fox jumps over the lazy dog ", count: 20)
        var sizes: [Int] = []
        for _ in 0..<3 {
            var (wire, compressed) = try payload(of: try sender.compressedFrame(.text(text), mask: nil, allocator: allocator))
            XCTAssertTrue(compressed)
            sizes.append(wire.readableBytes)
            XCTAssertEqual(String(buffer: try receiver.inflate(&wire, maxSize: 1 << 20, allocator: allocator)), text)
        }
        XCTAssertLessThan(sizes[1], sizes[0] / 2, "the second message refers to the first")
        // Without context takeover every message compresses the same.
        var stateless = PerMessageDeflateCodec(agreement: self.stateless, options: .shared)
        let a = try stateless.compressedFrame(.text(text), mask: nil, allocator: allocator)
        let b = try stateless.compressedFrame(.text(text), mask: nil, allocator: allocator)
        XCTAssertEqual(a, b)
        XCTAssertEqual(try payload(of: a).0.readableBytes, sizes[0], "same bytes as the first message with takeover")
    }

    func testRoundTripsOfManySizesAndMasking() throws {
        var codec = PerMessageDeflateCodec(agreement: stateless, options: .shared)
        var random = SystemRandomNumberGenerator()
        for size in [1, 100, 4096, 65_537, 1_000_000] {
            // Half random (incompressible), half repetitive.
            let bytes = (0..<size).map { $0 % 2 == 0 ? UInt8.random(in: 0...255, using: &random) : UInt8($0 % 7) }
            let original = ByteBuffer(bytes: bytes)
            var frame = try codec.compressedFrame(.binary(original), mask: .random(), allocator: allocator)
            var receiver = FrameReceiver(configuration: .init(maxMessageSize: 1 << 24, maxFragments: 10, expectMasked: true, compressionNegotiated: true))
            guard case .message(.binary, var wire, true)? = try receiver.next(&frame) else { return XCTFail("size \(size)") }
            XCTAssertEqual(try codec.inflate(&wire, maxSize: 1 << 24, allocator: allocator), original, "size \(size)")
        }
    }

    func testDecompressionBombIsStoppedAtTheLimit() throws {
        var codec = PerMessageDeflateCodec(agreement: stateless, options: .shared)
        let zeros = ByteBuffer(repeating: 0, count: 10 * 1024 * 1024)
        let (wire, _) = try payload(of: try codec.compressedFrame(.binary(zeros), mask: nil, allocator: allocator))
        XCTAssertLessThan(wire.readableBytes, 20_000)
        var copy = wire
        XCTAssertThrowsError(try codec.inflate(&copy, maxSize: 1024 * 1024, allocator: allocator)) { error in
            XCTAssertEqual((error as? ProtocolViolation)?.code, .messageTooBig)
        }
        // Exactly at the limit is fine.
        copy = wire
        XCTAssertEqual(try codec.inflate(&copy, maxSize: zeros.readableBytes, allocator: allocator).readableBytes, zeros.readableBytes)
    }

    func testCorruptDataIs1007AndTheSharedStreamRecovers() throws {
        var codec = PerMessageDeflateCodec(agreement: stateless, options: .shared)
        var garbage = ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x12])
        XCTAssertThrowsError(try codec.inflate(&garbage, maxSize: 100, allocator: allocator)) { error in
            XCTAssertEqual((error as? ProtocolViolation)?.code, .invalidFramePayloadData)
        }
        var hello = ByteBuffer(bytes: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        XCTAssertEqual(String(buffer: try codec.inflate(&hello, maxSize: 100, allocator: allocator)), "Hello")
    }

    func testSharedKeysAndMinimumSize() {
        let options = PerMessageDeflateOptions(minimumSize: 100)
        let codec = PerMessageDeflateCodec(agreement: stateless, options: options)
        XCTAssertNotNil(codec.sharedKey)
        XCTAssertFalse(codec.shouldCompress(count: 99))
        XCTAssertTrue(codec.shouldCompress(count: 100))
        XCTAssertNil(PerMessageDeflateCodec(agreement: takeover, options: .contextTakeover).sharedKey)
    }
}
