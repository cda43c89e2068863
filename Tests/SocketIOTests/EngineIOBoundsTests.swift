import NIOCore
import NIOPosix
import XCTest

@testable import SocketIO

/// The pure parts of the Engine.IO bounds: the outbox budget of the session state and the
/// session registry's limits.
final class EngineIOBoundsTests: XCTestCase {
    // MARK: - Outbox budget

    func testOutboxBudgetCountsEncodedBytesPlusPerPacketOverhead() {
        let overhead = EngineIOPacketBatch.perPacketOverhead
        let packet = EngineIOPacket.message(String(repeating: "x", count: 50))  // "4" + 50 bytes
        XCTAssertEqual(EngineIOPacketBatch([packet]).cost, 51 + overhead)
        var state = EngineIOSessionState(transport: .polling, maxOutboxBytes: 2 * (51 + overhead))
        XCTAssertEqual(state.send([packet]), .none)
        XCTAssertEqual(state.send([packet]), .none, "exactly at the budget is allowed")
        XCTAssertEqual(state.outboxBytes, 2 * (51 + overhead))
        XCTAssertEqual(state.send([.noop]), .overBudget, "one byte-less packet still costs its overhead")
    }

    func testTakingTheOutboxFreesTheBudget() {
        var state = EngineIOSessionState(transport: .polling, maxOutboxBytes: 200)
        XCTAssertEqual(state.send([.message(String(repeating: "y", count: 120))]), .none)
        XCTAssertEqual(state.poll(), .respond([.message(String(repeating: "y", count: 120))]))
        XCTAssertEqual(state.outboxBytes, 0)
        XCTAssertEqual(state.send([.message(String(repeating: "y", count: 120))]), .none)
    }

    func testManyTinyPacketsExceedTheBudgetThroughTheirOverhead() {
        var state = EngineIOSessionState(transport: .polling, maxOutboxBytes: 10_000)
        var sent = 0
        while state.send([.message("1")]) != .overBudget {
            sent += 1
            XCTAssertLessThan(sent, 10_000, "the budget never closed")
        }
        XCTAssertEqual(sent, 10_000 / (2 + EngineIOPacketBatch.perPacketOverhead))
    }

    func testBudgetDoesNotApplyOnAWebSocket() {
        // There the WebSocket's own buffer limit applies.
        var state = EngineIOSessionState(transport: .websocket, maxOutboxBytes: 10)
        let big = EngineIOPacket.message(String(repeating: "z", count: 1000))
        XCTAssertEqual(state.send([big]), .writeWebSocket([big]))
        XCTAssertEqual(state.outboxBytes, 0)
    }

    func testSharedBatchIsCountedForEverySession() {
        let batch = EngineIOPacketBatch([.message("shared")])
        var first = EngineIOSessionState(transport: .polling, maxOutboxBytes: batch.cost)
        var second = EngineIOSessionState(transport: .polling, maxOutboxBytes: batch.cost)
        XCTAssertEqual(first.send(batch), .none)
        XCTAssertEqual(second.send(batch), .none)
        XCTAssertEqual(first.send(batch), .overBudget)
        XCTAssertEqual(second.poll(), .respond([.message("shared")]))
    }

    func testLogThrottleLetsOneLineThroughPerIntervalAndCountsTheRest() throws {
        let throttle = EngineIOLogThrottle(interval: .milliseconds(200))
        XCTAssertEqual(throttle.admit(), 0)
        for _ in 0..<5 { XCTAssertNil(throttle.admit()) }
        Thread.sleep(forTimeInterval: 0.25)
        XCTAssertEqual(throttle.admit(), 5)
        XCTAssertNil(throttle.admit())
    }

    func testSessionTimersAreRoundedUpToACoarseGrid() {
        let granularity = EngineIOSocket.timerGranularity
        for delay in [TimeAmount.zero, .milliseconds(1), .milliseconds(49), .seconds(25)] {
            let before = NIODeadline.now() + delay
            let deadline = EngineIOSocket.coarseDeadline(in: delay)
            XCTAssertEqual(deadline.uptimeNanoseconds % granularity, 0)
            XCTAssertGreaterThanOrEqual(deadline, before, "never early")
            XCTAssertLessThanOrEqual(deadline.uptimeNanoseconds, before.uptimeNanoseconds + 2 * granularity, "at most one step late")
        }
    }

    // MARK: - Session registry

    private func session(_ server: EngineIOServer, address: String?, loop: EventLoop) throws -> EngineIOSocket {
        let remote = try address.map { try SocketAddress(ipAddress: $0, port: 40000) }
        let info = EngineIORequestInfo(method: .GET, uri: "/", path: "/", query: [:], headers: [:],
                                       remoteAddress: remote, transport: .polling)
        return EngineIOSocket(id: RandomID.make(), request: info, transport: .polling, eventLoop: loop, server: server)
    }

    func testRegistryCapsSessionsGloballyAndPerAddress() throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let server = EngineIOServer { _ in }
        let registry = EngineIOSessionRegistry(maxSessions: 4, maxPerAddress: 2)
        let a1 = try session(server, address: "10.0.0.1", loop: loop)
        let a2 = try session(server, address: "10.0.0.1", loop: loop)
        XCTAssertNil(registry.register(a1))
        XCTAssertNil(registry.register(a2))
        XCTAssertEqual(registry.register(try session(server, address: "10.0.0.1", loop: loop)), .addressFull)
        XCTAssertEqual(registry.check(address: a1.request.remoteAddress), .addressFull)
        XCTAssertNil(registry.register(try session(server, address: "10.0.0.2", loop: loop)))
        XCTAssertNil(registry.register(try session(server, address: nil, loop: loop)), "unknown addresses count globally only")
        XCTAssertEqual(registry.count, 4)
        XCTAssertEqual(registry.register(try session(server, address: "10.0.0.3", loop: loop)), .serverFull)
        XCTAssertEqual(registry.check(address: nil), .serverFull)

        registry.remove(a1)
        registry.remove(a1)  // twice: counted once
        XCTAssertEqual(registry.count, 3)
        XCTAssertNil(registry.check(address: a1.request.remoteAddress))
        XCTAssertNil(registry.register(try session(server, address: "10.0.0.1", loop: loop)))
        XCTAssertIdentical(registry.session(a2.id), a2)
        XCTAssertNil(registry.session(a1.id))
    }
}
