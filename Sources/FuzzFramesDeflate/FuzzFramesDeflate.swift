import CompressNIO
import Duplex
import FuzzSupport
import NIOCore

/// The frame receiver with permessage-deflate negotiated: compressed messages → inflate
/// (with its size limit) → UTF-8 check → echo (compressed again), plus everything of
/// FuzzFrames. Random bytes rarely make a valid deflate stream, so the input is a small
/// program whose ops compress fuzzer-chosen messages with zlib before framing them.
///
/// Input: byte 0: bits 0–1 the client's offer, bit 2 the server's mode (shared or context
/// takeover), bits 3–7 the read size. Then ops until the input ends, op = byte % 4:
///   0 raw bytes:      n (1 byte), n bytes written as they are
///   1 compressed msg: flags (bit 0 binary, bits 1–2 fragments - 1, bit 3 keep the
///                     compression context), n (2 bytes), n bytes of content
///   2 bomb:           flags (bit 0 binary), a byte b, k (2 bytes): (k mod 8192) × 16 copies of b
///   3 control:        kind (ping, pong, close), n (1 byte, ≤ 125), n bytes of payload
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFramesDeflate(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(UnsafeBufferPointer(start: data, count: size))
    let setup = input.byte()
    let offers = [
        "permessage-deflate",
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
    ]
    let offer = offers[Int(setup & 3)]
    var options = PerMessageDeflateOptions(minimumSize: 16)
    if setup & 4 != 0 { options.mode = .contextTakeover }
    let chunkSize = Int(setup >> 3)

    guard let server = try? EmbeddedServer(configuration: EmbeddedServer.configuration(compression: options)) else {
        fuzzCheck(false, "cannot set up the embedded server")
        return 0
    }
    UpgradeRequest.bytes(extensions: offer).withUnsafeBufferPointer { server.receive($0, chunkSize: 0) }

    try? compressor.reset()
    var stream = ByteBuffer()
    while !input.isAtEnd {
        switch input.byte() % 4 {
        case 0:
            let n = Int(input.byte())
            stream.writeBytes(input.take(n))
        case 1:
            let flags = input.byte()
            let content = input.take(input.uint16())
            if flags & 8 == 0 { try? compressor.reset() }
            writeCompressed(Array(content), binary: flags & 1 != 0, fragments: Int(flags >> 1 & 3) + 1,
                            to: &stream)
        case 2:
            let flags = input.byte()
            let filler = input.byte()
            let count = (input.uint16() % 8192) * 16  // up to 128 KiB: twice the limit
            try? compressor.reset()
            writeCompressed([UInt8](repeating: filler, count: count), binary: flags & 1 != 0, fragments: 1,
                            to: &stream)
        default:
            let opcodes: [UInt8] = [0x9, 0xA, 0x8]
            let opcode = opcodes[Int(input.byte()) % 3]
            let payload = input.take(min(125, Int(input.byte())))
            stream.writeImmutableBuffer(ClientFrames.frame(opcode: opcode, payload: payload))
        }
    }
    stream.withUnsafeReadableBytes { raw in
        server.receive(raw.assumingMemoryBound(to: UInt8.self), chunkSize: chunkSize)
    }
    server.finish()
    guard let frames = server.framesAfterUpgrade() else {
        fuzzCheck(false, "the fixed handshake was not accepted")
        return 0
    }
    ServerOutputChecker.check(frames: frames, compressionNegotiated: true)
    return 0
}

/// The client's compressor, made once (a zlib stream is ~270 KB to set up); reset per message.
nonisolated(unsafe) private let compressor = try! ZlibCompressor(algorithm: .deflate, configuration: .init(windowSize: 15))

/// Compresses `content` as RFC 7692 §7.2.1 says (sync flush, trailing 00 00 FF FF removed)
/// and frames it in `fragments` masked frames, RSV1 on the first.
private func writeCompressed(_ content: [UInt8], binary: Bool, fragments: Int, to stream: inout ByteBuffer) {
    var source = ByteBuffer(bytes: content)
    var compressed = ByteBuffer()
    compressed.reserveCapacity(compressor.maxSize(from: source) + 64)
    guard (try? compressor.deflate(from: &source, to: &compressed, flush: .sync)) != nil else { return }
    if compressed.readableBytes >= 4 { compressed.moveWriterIndex(to: compressed.writerIndex - 4) }
    let bytes = Array(compressed.readableBytesView)
    let step = max(1, (bytes.count + fragments - 1) / fragments)
    var start = 0
    var first = true
    repeat {
        let end = min(bytes.count, start + step)
        stream.writeImmutableBuffer(ClientFrames.frame(
            opcode: first ? (binary ? 0x2 : 0x1) : 0x0, fin: end == bytes.count, rsv1: first,
            payload: bytes[start..<end]))
        first = false
        start = end
    } while start < bytes.count
}
