import Duplex
import Logging
import NIOCore
import ServiceLifecycle
import XCTest

@testable import ChatRoom

/// The chat server has every Duplex server's shape: create, `listen` (the bound port),
/// `run` (until closed), `close` (graceful, idempotent).
final class ChatServerTests: XCTestCase {
    private func configuration(port: Int = 0, storage: ChatServer.Storage = .memory) -> ChatServer.Configuration {
        var configuration = ChatServer.Configuration()
        configuration.port = port
        configuration.storage = storage
        configuration.logger.logLevel = .critical
        return configuration
    }

    func testCreateListenRunClose() async throws {
        let server = try await ChatServer(configuration: configuration())
        let port = try await server.listen()
        XCTAssertNotEqual(port, 0)
        let running = Task { try await server.run() }

        var clientConfiguration = WebSocket.Configuration()
        clientConfiguration.logger.logLevel = .critical
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/?name=Ann", configuration: clientConfiguration)
        var iterator = socket.messages.makeAsyncIterator()
        guard case .text(let welcome) = try await iterator.next() else { return XCTFail("no welcome") }
        XCTAssertTrue(welcome.contains("Ann"), welcome)

        async let secondClose: Void = server.close()  // a second call waits for the first
        await server.close()
        await secondClose
        try await running.value  // run returns once close has finished
        let event = await socket.waitUntilClosed()
        XCTAssertEqual(event.code, .goingAway)
        XCTAssertTrue(event.wasClean)
    }

    func testABusyPortIsAnErrorThatNamesIt() async throws {
        let first = try await ChatServer(configuration: configuration())
        let port = try await first.listen()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let second = try await ChatServer(configuration: configuration(port: port, storage: .sqlite(path: directory.appendingPathComponent("chat.sqlite").path)))
        do {
            try await second.listen()
            XCTFail("the port is taken")
        } catch {
            XCTAssertTrue("\(error)".contains("\(port)"), "\(error)")
        }
        await second.close()  // closes the store it opened; run returns at once afterwards
        try await second.run()
        await first.close()
    }

    /// A `Service`: graceful shutdown of its `ServiceGroup` (SIGTERM) closes the chat.
    func testGracefulShutdownOfTheGroupClosesTheChat() async throws {
        let server = try await ChatServer(configuration: configuration())
        let port = try await server.listen()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let group = ServiceGroup(services: [server], logger: logger)
        let running = Task { try await group.run() }
        var clientConfiguration = WebSocket.Configuration()
        clientConfiguration.logger.logLevel = .critical
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration)
        await group.triggerGracefulShutdown()
        let event = await socket.waitUntilClosed()
        XCTAssertEqual(event.code, .goingAway)
        try await running.value
    }
}
