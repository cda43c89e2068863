import Duplex
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// One TCP connection to a real `WebSocketServer` pipeline (HTTP decoder → the server's
/// HTTP handler → upgrade → `WebSocketConnection`), on an `EmbeddedChannel`: no sockets,
/// no threads, every input starts from a fresh server.
///
/// The WebSocket echoes what it receives (so the send path and compression run too).
/// `finish()` closes the connection, fires every pending timer, and checks what must hold
/// whatever the input: the server tracks no connection any more, the close event came at
/// most once (exactly once for an opened WebSocket), no message was over the size limit,
/// and the frames the server wrote are well formed.
public final class EmbeddedServer {
    public static let maxMessageSize = 64 * 1024

    /// What the server's callbacks saw (everything runs on the one embedded loop).
    final class Observations: @unchecked Sendable {
        var opened = 0
        var closeEvents = 0
        var oversizedMessage: Int?
    }

    let loop = EmbeddedEventLoop()
    let channel: EmbeddedChannel
    let server: WebSocketServer
    let observations = Observations()
    private var output = ByteBuffer()

    public static func configuration(compression: PerMessageDeflateOptions?) -> WebSocketServer.Configuration {
        var configuration = WebSocketServer.Configuration()
        configuration.logger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
        configuration.webSocket.maxMessageSize = maxMessageSize
        configuration.webSocket.maxFragments = 64
        configuration.webSocket.pingInterval = nil
        configuration.webSocket.compression = compression
        configuration.maxRequestBodySize = 4096
        configuration.shouldUpgrade = { head, _ in
            head.uri.hasPrefix("/private")
                ? .reject(HandshakeError(status: .forbidden, reason: "not here"))
                : .accept(headers: ["X-Fuzz": "1"])
        }
        configuration.selectSubprotocol = { offered, _ in offered.first { $0.hasPrefix("chat") } }
        configuration.httpHandler = { request in
            let summary = "\(request.method) \(request.path) \(request.query.count) \(request.body.readableBytes)\n"
            guard request.path.hasPrefix("/poll") else {
                return request.eventLoop.makeSucceededFuture(HTTPResponse(body: summary))
            }
            // A long poll: answered a second later (when `finish` advances the clock), so
            // requests behind it wait in the handler's queue.
            return request.eventLoop.scheduleTask(in: .seconds(1)) { HTTPResponse(body: summary) }.futureResult
        }
        return configuration
    }

    public init(configuration: WebSocketServer.Configuration) throws {
        let observations = self.observations
        let maxMessageSize = Self.maxMessageSize
        server = WebSocketServer(configuration: configuration, group: loop) { connection in
            observations.opened += 1
            connection.onText { text in
                if text.utf8.count > maxMessageSize { observations.oversizedMessage = text.utf8.count }
                connection.send(text)
            }
            connection.onBinary { data in
                if data.readableBytes > maxMessageSize { observations.oversizedMessage = data.readableBytes }
                connection.send(data)
            }
            connection.onClose { _ in observations.closeEvents += 1 }
        }
        channel = EmbeddedChannel(loop: loop)
        try server.configurePipeline(channel)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
    }

    /// Delivers `bytes` as reads of `chunkSize` bytes (0: one read), as TCP might.
    public func receive(_ bytes: UnsafeBufferPointer<UInt8>, chunkSize: Int) {
        guard !bytes.isEmpty else { return }
        let step = chunkSize > 0 ? chunkSize : bytes.count
        var start = 0
        while start < bytes.count, channel.isActive {
            let end = min(bytes.count, start + step)
            receive(ByteBuffer(bytes: UnsafeBufferPointer(rebasing: bytes[start..<end])))
            start = end
        }
    }

    public func receive(_ buffer: ByteBuffer) {
        guard channel.isActive else { return }
        _ = try? channel.writeInbound(buffer)
        loop.run()
        drainOutput()
    }

    /// Everything the server wrote so far.
    public var written: ByteBuffer { output }

    private func drainOutput() {
        while let item = try? channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(var buffer) = item { output.writeBuffer(&buffer) }
        }
    }

    /// The client goes away (if the server did not close first); then the checks that
    /// hold for every input.
    public func finish() {
        _ = try? channel.finish(acceptAlreadyClosed: true)
        // Close timeouts, idle timers: everything still scheduled runs now.
        loop.advanceTime(by: .hours(1))
        drainOutput()
        fuzzCheck(server.trackedConnectionCount == 0, "server still tracks \(server.trackedConnectionCount) connection(s) after close")
        fuzzCheck(observations.closeEvents == observations.opened,
                  "\(observations.opened) WebSocket(s) opened, \(observations.closeEvents) close event(s)")
        fuzzCheck(observations.oversizedMessage == nil, "a \(observations.oversizedMessage ?? 0)-byte message passed the \(Self.maxMessageSize)-byte limit")
        try? loop.syncShutdownGracefully()
    }

    /// The WebSocket frames the server wrote after a 101 response (nil: no upgrade).
    public func framesAfterUpgrade() -> ByteBuffer? {
        var output = self.output
        let view = output.readableBytesView
        guard view.starts(with: "HTTP/1.1 101 ".utf8) else { return nil }
        let terminator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = view.firstRange(of: terminator)?.upperBound else {
            fuzzCheck(false, "101 response head not complete")
            return nil
        }
        output.moveReaderIndex(forwardBy: end - view.startIndex)
        return output
    }
}
