import Duplex
import NIOCore
import Synchronization
import XCTest

@testable import SocketIO

/// The Socket.IO bounds in process: a real server on loopback, raw Engine.IO clients over a
/// real WebSocket (Duplex's client), so the test controls exactly what the client answers.
final class SocketIOBoundsTests: XCTestCase {
    func testBroadcastAckEntriesExpireOnASilentRecipient() async throws {
        let (io, port) = try await startSocketIO()
        let connected = Mutex<SocketIOSocket?>(nil)
        io.onConnection { socket in connected.withLock { $0 = socket } }
        let client = try await RawClient(port: port)
        _ = try await client.frame(startingWith: "0{")
        client.send("40")
        _ = try await client.frame(startingWith: "40{")
        await eventually { connected.withLock { $0 } != nil }
        let socket = try XCTUnwrap(connected.withLock { $0 })

        for round in 0..<3 {
            do {
                _ = try await io.timeout(.milliseconds(100)).emitWithAck("answer-me", arguments: [.number(Double(round))])
                XCTFail("the client never answers")
            } catch SocketIOAckError.timeout(let responses) {
                XCTAssertEqual(responses, [])
            }
        }
        _ = try await client.frame(startingWith: "42")  // the events did arrive (with ack ids)
        await eventually { (try? await socket.pendingAcknowledgements().get()) == 0 }
        client.socket.close()
        await io.close()
    }

    func testEmptyDynamicNamespacesAreRemovedAndCapped() async throws {
        let (io, port) = try await startSocketIO { $0.maxChildNamespaces = 2 }
        let parent = try io.of(regex: "^/dyn-[0-9]+$")
        let client = try await RawClient(port: port)
        _ = try await client.frame(startingWith: "0{")

        client.send("40/dyn-1,")
        _ = try await client.frame(startingWith: "40/dyn-1,{")
        XCTAssertEqual(parent.children.map(\.name), ["/dyn-1"])
        client.send("41/dyn-1,")
        await eventually { io.namespaceCount == 1 && parent.children.isEmpty }

        // Two at once is the cap: a third name is refused while they live.
        client.send("40/dyn-2,")
        client.send("40/dyn-3,")
        client.send("40/dyn-4,")
        _ = try await client.frame(startingWith: "40/dyn-3,{")
        let refused = try await client.frame(startingWith: "44/dyn-4,")
        XCTAssertTrue(refused.contains("Invalid namespace"), refused)
        XCTAssertEqual(Set(parent.children.map(\.name)), ["/dyn-2", "/dyn-3"])

        // The cleanup can be turned off (the reference default).
        let (keeping, keepingPort) = try await startSocketIO { $0.cleanupEmptyChildNamespaces = false }
        let keepingParent = try keeping.of(regex: "^/dyn-[0-9]+$")
        let other = try await RawClient(port: keepingPort)
        _ = try await other.frame(startingWith: "0{")
        other.send("40/dyn-7,")
        _ = try await other.frame(startingWith: "40/dyn-7,{")
        other.send("41/dyn-7,")
        try await Task.sleep(nanoseconds: 200_000_000)
        XCTAssertEqual(keepingParent.children.map(\.name), ["/dyn-7"])

        client.socket.close()
        other.socket.close()
        await io.close()
        await keeping.close()
    }

    func testConnectTimeoutHoldsAfterAConnectToAnUnknownNamespace() async throws {
        let (io, port) = try await startSocketIO { $0.connectTimeout = .milliseconds(300) }
        let client = try await RawClient(port: port)
        _ = try await client.frame(startingWith: "0{")
        client.send("40/nope,")
        _ = try await client.frame(startingWith: "44/nope,")
        let started = ContinuousClock.now
        let closed = await client.socket.waitUntilClosed()
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(3), "closed by the connect timeout, \(closed)")
        await eventually { io.engine.clientsCount == 0 }
        await io.close()
    }

    func testWebSocketHandshakesBeyondMaxSessionsAreRefused() async throws {
        let (io, port) = try await startSocketIO { $0.engine.maxSessions = 1 }
        let first = try await RawClient(port: port)
        _ = try await first.frame(startingWith: "0{")
        do {
            _ = try await RawClient(port: port)
            XCTFail("a second session was accepted")
        } catch {
            XCTAssertTrue("\(error)".contains("503"), "\(error)")
        }
        first.socket.close()
        await eventually { io.engine.clientsCount == 0 }
        let again = try await RawClient(port: port)
        _ = try await again.frame(startingWith: "0{")
        again.socket.close()
        await io.close()
    }

    func testMulticastEncodesOnceAndReachesEachSocketOnce() async throws {
        let (io, port) = try await startSocketIO()
        let sockets = Mutex<[SocketIOSocket]>([])
        io.onConnection { socket in sockets.withLock { $0.append(socket) } }
        var clients: [RawClient] = []
        for _ in 0..<3 {
            let client = try await RawClient(port: port)
            _ = try await client.frame(startingWith: "0{")
            client.send("40")
            _ = try await client.frame(startingWith: "40{")
            clients.append(client)
        }
        await eventually { sockets.withLock { $0.count } == 3 }
        let chosen = Array(sockets.withLock { $0 }.prefix(2))
        SocketIOSocket.emit("hello", arguments: [.string("both")], to: chosen)
        try await Task.sleep(nanoseconds: 300_000_000)
        let counts = clients.map { $0.received.filter { $0 == #"42["hello","both"]"# }.count }
        XCTAssertEqual(counts.sorted(), [0, 1, 1])
        for client in clients { client.socket.close() }
        await io.close()
    }
}
