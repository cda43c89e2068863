import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import XCTest

@testable import Duplex

/// An echo server on a free port, with the given configuration tweaks.
func startEchoServer(_ configure: (inout WebSocketServer.Configuration) -> Void = { _ in },
                     onConnection: (@Sendable (WebSocketConnection) -> Void)? = nil) async throws -> (WebSocketServer, Int) {
    var configuration = WebSocketServer.Configuration()
    configuration.logger.logLevel = .critical
    configure(&configuration)
    let server = WebSocketServer(configuration: configuration) { connection in
        if let onConnection {
            onConnection(connection)
            return
        }
        connection.onText { connection.send($0) }
        connection.onBinary { connection.send($0) }
    }
    let port = try await server.listen(port: 0, host: "127.0.0.1")
    return (server, port)
}

/// Collects values from any thread, for assertions after the fact.
final class Recorder<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}

/// Polls until `condition` holds (or fails the test after `timeout` seconds).
func eventually(timeout: Double = 5, file: StaticString = #filePath, line: UInt = #line, _ condition: () -> Bool) async {
    let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
    while !condition() {
        if ContinuousClock.now > deadline {
            XCTFail("condition not met within \(timeout) s", file: file, line: line)
            return
        }
        try? await Task.sleep(nanoseconds: 5_000_000)
    }
}

func clientConfiguration() -> WebSocket.Configuration {
    var configuration = WebSocket.Configuration()
    configuration.logger.logLevel = .critical
    configuration.connectTimeout = .seconds(5)
    return configuration
}

/// A TCP server that answers the first request with bytes of the test's choosing (given the
/// request text), then keeps the connection open: a misbehaving WebSocket server.
final class CannedServer: @unchecked Sendable {
    let channel: Channel
    var port: Int { channel.localAddress!.port! }

    init(respond: @escaping @Sendable (String) -> String?) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(respond: respond))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func close() async { try? await channel.close() }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let respond: @Sendable (String) -> String?
        var request = ""
        var answered = false
        init(respond: @escaping @Sendable (String) -> String?) { self.respond = respond }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            request += String(buffer: unwrapInboundIn(data))
            guard !answered, request.contains("\r\n\r\n") else { return }
            answered = true
            if let response = respond(request) {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
            }
        }
    }

    /// The `Sec-WebSocket-Accept` value for the key in a request.
    static func accept(for request: String) -> String {
        let line = request.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") }!
        let key = line.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)
        return Handshake.acceptValue(forKey: key)
    }
}

/// A raw TCP client: writes bytes, collects everything the server sends.
final class RawClient: Sendable {
    let channel: Channel
    private let store = Store()

    final class Store: Sendable {
        let received = Mutex(ByteBuffer())
        let closed = Atomic<Bool>(false)
    }

    init(port: Int) async throws {
        let store = self.store
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(store: store))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    func send(_ bytes: ByteBuffer) async throws { try await channel.writeAndFlush(bytes) }
    func send(_ text: String) async throws { try await send(ByteBuffer(string: text)) }
    var text: String { store.received.withLock { String(decoding: $0.readableBytesView, as: UTF8.self) } }
    var isClosed: Bool { store.closed.load(ordering: .acquiring) }

    /// The bytes after the HTTP response head, once the head is complete.
    var bodyAfterHead: ByteBuffer? {
        store.received.withLock { buffer in
            let view = buffer.readableBytesView
            guard let range = view.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
            var rest = buffer
            rest.moveReaderIndex(to: range.upperBound)
            return rest
        }
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let store: Store
        init(store: Store) { self.store = store }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = unwrapInboundIn(data)
            _ = store.received.withLock { $0.writeBuffer(&chunk) }
        }
        func channelInactive(context: ChannelHandlerContext) {
            store.closed.store(true, ordering: .releasing)
        }
    }
}

import Foundation
