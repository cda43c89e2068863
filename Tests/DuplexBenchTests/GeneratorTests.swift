import Duplex
import Foundation
import NIOCore
import XCTest

@testable import DuplexBench

final class ServerReference: @unchecked Sendable {
    var server: WebSocketServer?
}

final class Counts: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

/// The generator against a real Duplex server: it must count right and fail clearly.
final class GeneratorTests: XCTestCase {
    private var server: WebSocketServer!
    private var port = 0

    override func setUp() async throws {
        var configuration = WebSocketServer.Configuration()
        configuration.logger.logLevel = .error
        let reference = ServerReference()
        let server = WebSocketServer(configuration: configuration) { connection in
            // Plain echo, and on /broadcast every message goes to every /broadcast connection:
            // the protocol `duplex bench broadcast` expects.
            if connection.path == "/broadcast" {
                connection.onText { text in reference.server?.broadcast(text) { $0.path == "/broadcast" } }
            } else {
                connection.onText { text in connection.send(text) }
                connection.onBinary { data in connection.send(data) }
            }
        }
        reference.server = server
        self.server = server
        port = try await server.listen(port: 0, host: "127.0.0.1")
    }

    override func tearDown() async throws {
        await server.close(timeout: .milliseconds(200))
    }

    private func options(warmup: Double = 0.2, duration: Double = 1.0) -> BenchOptions {
        var options = BenchOptions()
        options.port = port
        options.threads = 2
        options.warmup = warmup
        options.duration = duration
        options.serverPID = getpid()
        options.label = name
        return options
    }

    func testEchoCountsEveryMessage() async throws {
        var parameters = Bench.EchoParameters()
        parameters.connections = 10
        parameters.size = 20
        parameters.window = 4
        let result = try await Bench.echo(options(), parameters)
        XCTAssertTrue(result.ok, result.summary)
        XCTAssertGreaterThan(result.messages, 0)
        XCTAssertEqual(result.sent, result.received, "every message sent came back")
        XCTAssertEqual(result.missing, 0)
        XCTAssertEqual(result.badLength, 0)
        XCTAssertEqual(result.latencyMicroseconds?.count, result.messages, "one latency per measured message")
        XCTAssertGreaterThan(result.latencyMicroseconds?.p50 ?? 0, 0)
        XCTAssertLessThanOrEqual(result.latencyMicroseconds!.p50, result.latencyMicroseconds!.max)
        XCTAssertNotNil(result.messagesPerServerCPUSecond)
        XCTAssertGreaterThan(result.clientCPUSeconds, 0)
        // The JSON round-trips.
        let decoded = try JSONDecoder().decode(BenchResult.self, from: Data(result.json().utf8))
        XCTAssertEqual(decoded.messages, result.messages)
    }

    func testConnectionsGoRoundRobinOverSeveralServers() async throws {
        // A second server: the generator's connections alternate between the two ports.
        let counts = Counts()
        let second = WebSocketServer { connection in
            counts.add()
            connection.onText { text in connection.send(text) }
        }
        let secondPort = try await second.listen(port: 0, host: "127.0.0.1")
        defer { Task { await second.close(timeout: .milliseconds(200)) } }
        var options = options(duration: 0.5)
        options.ports = [port, secondPort]
        options.serverPIDs = [getpid(), getpid()]
        var parameters = Bench.EchoParameters()
        parameters.connections = 10
        let result = try await Bench.echo(options, parameters)
        XCTAssertTrue(result.ok, result.summary)
        XCTAssertEqual(counts.value, 5, "every second connection goes to the second server")
        XCTAssertEqual(result.target, "ws://127.0.0.1:\(port)/ ws://127.0.0.1:\(secondPort)/")
        XCTAssertNotNil(result.serverCPUSeconds, "CPU summed over the two PIDs")
    }

    func testLargeBinaryEcho() async throws {
        var parameters = Bench.EchoParameters()
        parameters.connections = 3
        parameters.size = 70_000
        parameters.binary = true
        let result = try await Bench.echo(options(duration: 0.5), parameters)
        XCTAssertTrue(result.ok, result.summary)
        XCTAssertEqual(result.sent, result.received)
        XCTAssertGreaterThan(result.messages, 0)
    }

    func testBroadcastReachesEveryConnection() async throws {
        var parameters = Bench.BroadcastParameters()
        parameters.connections = 20
        parameters.publishers = 2
        var options = options()
        options.path = "/broadcast"
        let result = try await Bench.broadcast(options, parameters)
        XCTAssertTrue(result.ok, result.summary)
        XCTAssertGreaterThan(result.sent, 0)
        XCTAssertEqual(result.received, result.sent * 20, "each message reached all 20")
        XCTAssertGreaterThan(result.latencyMicroseconds?.count ?? 0, 0)
    }

    func testBroadcastAgainstAnEchoServerFails() async throws {
        var options = options(warmup: 0.1, duration: 0.3)
        options.path = "/"  // plain echo: each message reaches only its sender
        options.drainTimeout = 0.5
        var parameters = Bench.BroadcastParameters()
        parameters.connections = 5
        let result = try await Bench.broadcast(options, parameters)
        XCTAssertFalse(result.ok)
        XCTAssertGreaterThan(result.missing, 0)
    }

    func testConnectHoldsConnections() async throws {
        var parameters = Bench.ConnectParameters()
        parameters.connections = 50
        parameters.hold = 0.2
        parameters.touch = true
        let result = try await Bench.connect(options(), parameters)
        XCTAssertTrue(result.ok, result.summary)
        XCTAssertEqual(result.received, 50)
        XCTAssertEqual(result.handshakeMicroseconds?.count, 50)
        XCTAssertNotNil(result.serverRSSPerConnectionBytes)
    }

    func testConnectionRefusedIsAnError() async throws {
        await server.close(timeout: .milliseconds(100))
        var parameters = Bench.EchoParameters()
        parameters.connections = 2
        do {
            _ = try await Bench.echo(options(), parameters)
            XCTFail("expected an error")
        } catch let error as BenchError {
            guard case .connectFailed(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("127.0.0.1:\(port)"), message)
        }
    }

    func testNonLoopbackTargetIsRefused() async throws {
        var options = options()
        options.host = "192.0.2.1"
        do {
            _ = try await Bench.echo(options, Bench.EchoParameters())
            XCTFail("expected an error")
        } catch is BenchError {}
    }
}
