import FuzzSupport
import NIOCore

/// The WebSocket frame receiver, server role, no compression: a real server connection
/// (after a valid handshake) reads the input as client bytes.
///
/// Input: byte 0 picks the read size (0: everything in one read, n: reads of n bytes, so
/// headers and payloads split across reads); the rest is the byte stream.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrames(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(UnsafeBufferPointer(start: data, count: size))
    let chunkSize = Int(input.byte())
    guard let server = try? EmbeddedServer(configuration: EmbeddedServer.configuration(compression: nil)) else {
        fuzzCheck(false, "cannot set up the embedded server")
        return 0
    }
    let upgrade = UpgradeRequest.bytes()
    upgrade.withUnsafeBufferPointer { server.receive($0, chunkSize: 0) }
    server.receive(input.rest(), chunkSize: chunkSize)
    server.finish()
    guard let frames = server.framesAfterUpgrade() else {
        fuzzCheck(false, "the fixed handshake was not accepted")
        return 0
    }
    ServerOutputChecker.check(frames: frames, compressionNegotiated: false)
    return 0
}
