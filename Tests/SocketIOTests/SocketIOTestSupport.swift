import Duplex
import NIOCore
import Synchronization
import XCTest

@testable import SocketIO

/// A raw Engine.IO v4 client on the WebSocket transport: records every text frame.
final class RawClient: Sendable {
    let socket: WebSocket
    private let frames = Mutex<[String]>([])

    init(port: Int) async throws {
        var configuration = WebSocket.Configuration()
        configuration.logger.logLevel = .critical
        configuration.connectTimeout = .seconds(5)
        socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/socket.io/?EIO=4&transport=websocket",
                                             configuration: configuration)
        socket.onText { [weak self] text in self?.frames.withLock { $0.append(text) } }
    }

    var received: [String] { frames.withLock { $0 } }

    func send(_ text: String) { socket.send(text) }

    /// Waits for a frame that starts with `prefix` (5 s at most).
    func frame(startingWith prefix: String, file: StaticString = #filePath, line: UInt = #line) async throws -> String {
        for _ in 0..<500 {
            if let frame = received.first(where: { $0.hasPrefix(prefix) }) { return frame }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        XCTFail("no frame starting with \(prefix) in \(received)", file: file, line: line)
        return ""
    }
}

func startSocketIO(_ configure: (inout SocketIOServerOptions) -> Void = { _ in }) async throws -> (SocketIOServer, Int) {
    var options = SocketIOServerOptions()
    options.engine.logger.logLevel = .critical
    configure(&options)
    let io = SocketIOServer(options: options)
    return (io, try await io.listen(port: 0))
}

func eventually(_ condition: () async -> Bool, file: StaticString = #filePath, line: UInt = #line) async {
    for _ in 0..<500 {
        if await condition() { return }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
    XCTFail("condition never held", file: file, line: line)
}
