import Duplex
import FuzzSupport
import NIOCore

/// The server's HTTP side: raw client bytes into the real pipeline (HTTP decoder → the
/// server's HTTP handler → opening handshake with subprotocol and permessage-deflate
/// negotiation → upgrade, or a plain response, or 400/403/413/426), and on into the
/// WebSocket when a request upgrades. Keep-alive and pipelined requests included.
///
/// Input: byte 0 picks the read size (0: one read); the rest is the byte stream.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(UnsafeBufferPointer(start: data, count: size))
    let chunkSize = Int(input.byte())
    let configuration = EmbeddedServer.configuration(compression: PerMessageDeflateOptions(minimumSize: 16))
    guard let server = try? EmbeddedServer(configuration: configuration) else {
        fuzzCheck(false, "cannot set up the embedded server")
        return 0
    }
    server.receive(input.rest(), chunkSize: chunkSize)
    server.finish()
    let output = server.written
    if output.readableBytes > 0 {
        fuzzCheck(output.readableBytesView.starts(with: "HTTP/1.".utf8), "server output does not start with a status line")
    }
    if let frames = server.framesAfterUpgrade() {
        ServerOutputChecker.check(frames: frames, compressionNegotiated: true)
    }
    return 0
}
