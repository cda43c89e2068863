import Duplex
import NIOCore
import Synchronization
import XCTest

@testable import SocketIO

/// Connection state recovery on one node, against a raw Engine.IO client over real
/// WebSockets: what the reference client sends (`pid` and `offset` in the CONNECT auth) and
/// what it must get back.
final class ConnectionStateRecoveryTests: XCTestCase {
    private struct Connected {
        let client: RawClient
        let sid: String
        let pid: String
    }

    private func startRecovering(_ configure: (inout SocketIOConnectionStateRecovery) -> Void = { _ in })
        async throws -> (SocketIOServer, Int) {
        try await startSocketIO { options in
            var recovery = SocketIOConnectionStateRecovery()
            configure(&recovery)
            options.connectionStateRecovery = recovery
        }
    }

    /// Connects to `/`, with `pid` and `offset` in the auth when given.
    private func connect(_ port: Int, pid: String? = nil, offset: String? = nil) async throws -> Connected {
        let client = try await RawClient(port: port)
        _ = try await client.frame(startingWith: "0{")
        var auth: JSONObject = [:]
        if let pid { auth["pid"] = .string(pid) }
        if let offset { auth["offset"] = .string(offset) }
        client.send("40" + JSONValue.object(auth).serialized())
        let answer = try await client.frame(startingWith: "40{")
        guard case .object(let object) = try JSONValue(parsing: String(answer.dropFirst(2))),
              case .string(let sid)? = object["sid"], case .string(let newPID)? = object["pid"]
        else {
            XCTFail("CONNECT answer without sid and pid: \(answer)")
            throw CancellationError()
        }
        return Connected(client: client, sid: sid, pid: newPID)
    }

    /// The arguments of the EVENT frames received so far, in order.
    private func events(_ client: RawClient) throws -> [[JSONValue]] {
        try client.received.filter { $0.hasPrefix("42") }.map {
            guard case .array(let elements) = try JSONValue(parsing: String($0.dropFirst(2))) else { return [] }
            return elements
        }
    }

    private func usage(_ io: SocketIOServer) -> (packets: Int, packetBytes: Int, sessions: Int, sessionBytes: Int) {
        (io.sockets.adapter as! InMemoryAdapter).recoveryUsage
    }

    func testARecoveredSocketGetsItsIdRoomsDataAndTheMissedEventsBeforeTheConnectAnswer() async throws {
        let (io, port) = try await startRecovering()
        let middlewareRuns = Atomic<Int>(0)
        io.use { _ in middlewareRuns.add(1, ordering: .relaxed) }
        let recoveredSockets = Mutex<[SocketIOSocket]>([])
        io.onConnection { socket in
            if socket.recovered {
                recoveredSockets.withLock { $0.append(socket) }
            } else {
                socket.join("a")
                socket.data = ["name": "ada"]
            }
        }
        let first = try await connect(port)
        io.emit("e", 0)
        _ = try await first.client.frame(startingWith: "42[\"e\",0")
        let offset = try XCTUnwrap(events(first.client).last?.last?.stringValue)
        let oldSocket = try XCTUnwrap(io.sockets.socket(id: first.sid))
        first.client.socket.close()
        await eventually { self.usage(io).sessions == 1 }

        // While the client is away: what it must get, and what it must not.
        io.to("a").emit("e", 1)
        io.to("b").emit("not for it", 0)
        io.except("a").emit("not for it", 1)
        io.emit("e", 2)
        io.volatile.emit("not for it", 2)  // volatile: never logged
        io.to(first.sid).emit("e", 3)
        oldSocket.emit("e", 4)  // through its own room: logged too

        let second = try await connect(port, pid: first.pid, offset: offset)
        XCTAssertEqual(second.sid, first.sid)
        XCTAssertEqual(second.pid, first.pid)
        let frames = second.client.received
        let connectAt = try XCTUnwrap(frames.firstIndex { $0.hasPrefix("40{") })
        let missed = try events(second.client)
        XCTAssertEqual(missed.map { $0.dropLast() }, [["e", 1], ["e", 2], ["e", 3], ["e", 4]].map { $0[...] })
        XCTAssertEqual(frames.prefix(connectAt).filter { $0.hasPrefix("42") }.count, 4, "missed events come before CONNECT: \(frames)")
        let offsets = missed.compactMap { $0.last?.stringValue }
        XCTAssertEqual(Set(offsets).count, 4, "every event has an offset of its own")

        let socket = try XCTUnwrap(recoveredSockets.withLock { $0.first })
        XCTAssertTrue(socket.recovered)
        XCTAssertEqual(socket.id, first.sid)
        XCTAssertEqual(socket.data, ["name": "ada"])
        XCTAssertEqual(socket.rooms, [first.sid, "a"])
        XCTAssertEqual(middlewareRuns.load(ordering: .relaxed), 1, "skipMiddlewares: the recovered socket skipped them")
        XCTAssertEqual(usage(io).sessions, 0, "a session is restored once")

        // Live again, in its rooms.
        io.to("a").emit("e", 5)
        _ = try await second.client.frame(startingWith: "42[\"e\",5")
        await io.close()
    }

    func testMiddlewaresRunForARecoveredSocketWhenNotSkipped() async throws {
        let (io, port) = try await startRecovering { $0.skipMiddlewares = false }
        let middlewareRuns = Atomic<Int>(0)
        io.use { _ in middlewareRuns.add(1, ordering: .relaxed) }
        let first = try await connect(port)
        io.emit("e", 0)
        let offset = try await first.client.frame(startingWith: "42[\"e\",0")
        first.client.socket.close()
        await eventually { self.usage(io).sessions == 1 }
        let second = try await connect(port, pid: first.pid, offset: try events(first.client)[0][2].stringValue)
        XCTAssertEqual(second.sid, first.sid, "recovered (\(offset))")
        XCTAssertEqual(middlewareRuns.load(ordering: .relaxed), 2)
        await io.close()
    }

    func testNoRecoveryForAnUnknownPidOrAClientThatLeftOnPurpose() async throws {
        let (io, port) = try await startRecovering()
        let recovered = Mutex<[Bool]>([])
        io.onConnection { socket in recovered.withLock { $0.append(socket.recovered) } }
        let first = try await connect(port)
        io.emit("e", 0)
        _ = try await first.client.frame(startingWith: "42[\"e\",0")
        let offset = try XCTUnwrap(events(first.client)[0].last?.stringValue)

        let stranger = try await connect(port, pid: "not-a-pid", offset: offset)
        XCTAssertNotEqual(stranger.sid, first.sid)
        XCTAssertNotEqual(stranger.pid, "not-a-pid", "a pid from a client is looked up, never taken")

        // `socket.disconnect()` on the client: not a recoverable reason.
        first.client.send("41")
        await eventually { io.sockets.socket(id: first.sid) == nil }
        XCTAssertEqual(usage(io).sessions, 0)
        let again = try await connect(port, pid: first.pid, offset: offset)
        XCTAssertNotEqual(again.sid, first.sid)
        XCTAssertEqual(recovered.withLock { $0 }, [false, false, false])
        await io.close()
    }

    func testAnExpiredSessionIsNotRecovered() async throws {
        let (io, port) = try await startRecovering { $0.maxDisconnectionDuration = .milliseconds(200) }
        let first = try await connect(port)
        io.emit("e", 0)
        _ = try await first.client.frame(startingWith: "42[\"e\",0")
        let offset = try XCTUnwrap(events(first.client)[0].last?.stringValue)
        first.client.socket.close()
        await eventually { self.usage(io).sessions == 1 }
        try await Task.sleep(nanoseconds: 400_000_000)
        let second = try await connect(port, pid: first.pid, offset: offset)
        XCTAssertNotEqual(second.sid, first.sid)
        XCTAssertEqual(usage(io).sessions, 0, "the expired session went")
        io.emit("e", 1)  // logging drops what is older than the duration
        await eventually { self.usage(io).packets == 1 }
        await io.close()
    }

    func testThePacketLogIsBoundedAndATooOldOffsetMeansNoRecovery() async throws {
        let (io, port) = try await startRecovering {
            $0.maxLoggedPackets = 5
            $0.maxLoggedBytes = 400
        }
        let first = try await connect(port)
        io.emit("e", 0)
        _ = try await first.client.frame(startingWith: "42[\"e\",0")
        let offset = try XCTUnwrap(events(first.client)[0].last?.stringValue)
        first.client.socket.close()
        await eventually { self.usage(io).sessions == 1 }
        for index in 1...20 { io.emit("e", .number(Double(index))) }
        XCTAssertEqual(usage(io).packets, 5, "count bound")
        let big = String(repeating: "x", count: 150)
        for _ in 0..<4 { io.emit("big", .string(big)) }
        let now = usage(io)
        XCTAssertLessThanOrEqual(now.packetBytes, 400, "byte bound")
        XCTAssertEqual(now.packets, 2, "two of the ~170-byte packets fit in 400 bytes")

        let second = try await connect(port, pid: first.pid, offset: offset)
        XCTAssertNotEqual(second.sid, first.sid, "its offset was dropped: a new socket")
        await io.close()
    }

    func testTheSessionTableIsBoundedOldestFirst() async throws {
        let (io, port) = try await startRecovering {
            $0.maxSessions = 2
            $0.maxSessionBytes = 1_000
        }
        io.onConnection { socket in
            if !socket.recovered { socket.data = .string(String(repeating: "d", count: 200)) }
        }
        var clients: [(Connected, String)] = []
        for _ in 0..<3 {
            let connected = try await connect(port)
            io.to(connected.sid).emit("e", 0)
            _ = try await connected.client.frame(startingWith: "42[\"e\",0")
            clients.append((connected, try XCTUnwrap(events(connected.client)[0].last?.stringValue)))
        }
        for (index, (connected, _)) in clients.enumerated() {
            connected.client.socket.close()
            await eventually { self.usage(io).sessions == min(index + 1, 2) }
        }
        XCTAssertLessThanOrEqual(usage(io).sessionBytes, 1_000)
        let oldest = try await connect(port, pid: clients[0].0.pid, offset: clients[0].1)
        XCTAssertNotEqual(oldest.sid, clients[0].0.sid, "the oldest session was dropped")
        let newest = try await connect(port, pid: clients[2].0.pid, offset: clients[2].1)
        XCTAssertEqual(newest.sid, clients[2].0.sid)

        // A session bigger than the whole table is not kept at all.
        io.onConnection { socket in socket.data = .string(String(repeating: "D", count: 2_000)) }
        let huge = try await connect(port)
        let before = usage(io).sessions
        huge.client.socket.close()
        await eventually { io.sockets.socket(id: huge.sid) == nil }
        XCTAssertEqual(usage(io).sessions, before)
        await io.close()
    }
}

extension ConnectionStateRecoveryTests {
    /// Broadcasts keep coming while the client is away and while it reconnects: the events
    /// of the first connection, then those of the second, are every event once, in order
    /// (the rejoin and the broadcasts take the log's lock in turn).
    func testEventsBroadcastDuringTheReconnectionAreNeitherLostNorDoubled() async throws {
        let (io, port) = try await startRecovering()
        io.onConnection { socket in if !socket.recovered { socket.join("r") } }
        let first = try await connect(port)
        let total = 3_000
        let emitter = Task.detached {
            for index in 0..<total {
                io.to("r").emit("n", .number(Double(index)))
                // Spread over a few hundred milliseconds: the client leaves and comes back meanwhile.
                if index % 10 == 0 { try? await Task.sleep(nanoseconds: 1_000_000) }
            }
        }
        _ = try await first.client.frame(startingWith: "42[\"n\",100,")
        first.client.socket.close()
        await eventually { self.usage(io).sessions == 1 }
        // The last offset the client handled: once its socket is closed, nothing more comes.
        await eventually { first.client.socket.readyState == .closed }
        let offset = try XCTUnwrap(events(first.client).last?.last?.stringValue)
        let second = try await connect(port, pid: first.pid, offset: offset)
        XCTAssertEqual(second.sid, first.sid)
        await emitter.value
        _ = try await second.client.frame(startingWith: "42[\"n\",\(total - 1),")
        let numbers = try (events(first.client) + events(second.client)).compactMap { arguments -> Int? in
            guard arguments.first == "n", case .number(let value)? = arguments.dropFirst().first else { return nil }
            return Int(value)
        }
        XCTAssertEqual(numbers, Array(0..<total), "first \(numbers.prefix(5))…, \(numbers.count) in all")
        // Both ways were taken: replayed before the CONNECT answer, live after it.
        let frames = second.client.received
        let connectAt = try XCTUnwrap(frames.firstIndex { $0.hasPrefix("40{") })
        XCTAssertGreaterThan(frames[..<connectAt].filter { $0.hasPrefix("42[\"n\"") }.count, 0, "replayed")
        XCTAssertGreaterThan(frames[connectAt...].filter { $0.hasPrefix("42[\"n\"") }.count, 0, "live")
        await io.close()
    }
}
