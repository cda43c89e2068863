import Duplex
import Logging
import ServiceLifecycle
import Synchronization
import XCTest

@testable import SocketIO

/// `SocketIOServer` is a `Service`: graceful shutdown of its `ServiceGroup` (SIGTERM)
/// disconnects every socket with the reference reason and stops the server.
final class SocketIOServiceTests: XCTestCase {
    func testGracefulShutdownDisconnectsWithTheReferenceReason() async throws {
        let (io, port) = try await startSocketIO()
        let reasons = Recorded()
        io.onConnection { socket in
            socket.onDisconnect { reason in reasons.append(reason.rawValue) }
        }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let group = ServiceGroup(services: [io], logger: logger)
        let running = Task { try await group.run() }
        let client = try await RawClient(port: port)
        client.send("40")
        _ = try await client.frame(startingWith: "40{")
        await group.triggerGracefulShutdown()
        try await running.value
        XCTAssertEqual(reasons.all, ["server shutting down"])
        let event = await client.socket.waitUntilClosed()
        XCTAssertNotEqual(event.code, .abnormalClosure, "the WebSocket was closed, not dropped")
    }
}

private final class Recorded: Sendable {
    private let values = Mutex<[String]>([])
    func append(_ value: String) { values.withLock { $0.append(value) } }
    var all: [String] { values.withLock { $0 } }
}
