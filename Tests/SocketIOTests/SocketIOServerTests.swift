import Duplex
import NIOCore
import Synchronization
import XCTest

@testable import SocketIO

/// The Socket.IO server in process, against a raw Engine.IO client over a real WebSocket:
/// connection order, typed events, middleware, namespaces, rooms, broadcast operators, acks.
final class SocketIOServerTests: XCTestCase {
    private func connect(_ port: Int, namespace: String = "") async throws -> RawClient {
        let client = try await RawClient(port: port)
        _ = try await client.frame(startingWith: "0{")
        client.send(namespace.isEmpty ? "40" : "40\(namespace),")
        return client
    }

    func testTheConnectionHandlerRunsBeforeTheClientSeesConnect() async throws {
        let (io, port) = try await startSocketIO()
        io.onConnection { socket in
            socket.join("lobby")
            socket.emit("hello", .string("from the handler"))
        }
        let client = try await connect(port)
        _ = try await client.frame(startingWith: "40{")
        // The moment the CONNECT answer is seen, the socket is in the room its handler joined.
        io.to("lobby").emit("news", .number(1))
        _ = try await client.frame(startingWith: "42[\"news\"")
        let frames = client.received
        let connectAt = try XCTUnwrap(frames.firstIndex { $0.hasPrefix("40{") })
        let helloAt = try XCTUnwrap(frames.firstIndex { $0 == "42[\"hello\",\"from the handler\"]" })
        XCTAssertLessThan(connectAt, helloAt, "the CONNECT answer comes first: \(frames)")
        await io.close()
    }

    func testATypedEventThatDoesNotDecodeIsAnsweredInWords() async throws {
        struct Person: Decodable, Sendable { var name: String; var age: Int }
        let (io, port) = try await startSocketIO()
        let seen = Mutex<[String]>([])
        io.onConnection { socket in
            socket.on("person", as: Person.self) { person, event in
                seen.withLock { $0.append(person.name) }
                event.ack?.reply([.string("ok")])
            }
        }
        let client = try await connect(port)
        _ = try await client.frame(startingWith: "40{")
        client.send("421[\"person\",{\"name\":\"Ada\",\"age\":\"old\"}]")
        let wrongType = try await client.frame(startingWith: "431")
        XCTAssertEqual(wrongType, "431[{\"error\":\"invalid arguments for \\\"person\\\": expected a number at .age\"}]")
        client.send("422[\"person\",{\"age\":36}]")
        let missing = try await client.frame(startingWith: "432")
        XCTAssertTrue(missing.contains("missing field \\\"name\\\""), missing)
        XCTAssertFalse(client.received.joined().contains("DecodingError"), "no Swift internals on the wire")
        client.send("423[\"person\",{\"name\":\"Ada\",\"age\":36}]")
        _ = try await client.frame(startingWith: "433[\"ok\"]")
        XCTAssertEqual(seen.withLock { $0 }, ["Ada"])
        await io.close()
    }

    func testMiddlewareRefusesWithItsMessage() async throws {
        let (io, port) = try await startSocketIO()
        io.use { socket in
            guard socket.handshake.auth["token"]?.stringValue == "secret" else { throw SocketIOMiddlewareError("unauthorized") }
        }
        let refused = try await connect(port)
        _ = try await refused.frame(startingWith: "44{\"message\":\"unauthorized\"")
        let admitted = try await RawClient(port: port)
        _ = try await admitted.frame(startingWith: "0{")
        admitted.send("40{\"token\":\"secret\"}")
        _ = try await admitted.frame(startingWith: "40{")
        await io.close()
    }

    func testNamespacesRoomsAndBroadcastOperators() async throws {
        let (io, port) = try await startSocketIO()
        io.onConnection { socket in
            socket.on("join") { event in
                if let room = event.arguments.first?.stringValue { socket.join(room) }
                event.ack?.reply([])
            }
        }
        let custom = io.of("/custom")
        custom.onConnection { socket in socket.emit("welcome", .string(socket.namespace.name)) }

        let a = try await connect(port)
        let b = try await connect(port)
        _ = try await a.frame(startingWith: "40{")
        _ = try await b.frame(startingWith: "40{")
        a.send("421[\"join\",\"red\"]")
        _ = try await a.frame(startingWith: "431[]")

        io.to("red").emit("only-red", .number(1))
        io.except("red").emit("not-red", .number(2))
        io.emit("everyone", .number(3))
        _ = try await a.frame(startingWith: "42[\"everyone\"")
        _ = try await b.frame(startingWith: "42[\"everyone\"")
        XCTAssertTrue(a.received.contains("42[\"only-red\",1]"))
        XCTAssertFalse(a.received.contains { $0.contains("not-red") })
        XCTAssertTrue(b.received.contains("42[\"not-red\",2]"))
        XCTAssertFalse(b.received.contains { $0.contains("only-red") })

        let c = try await connect(port, namespace: "/custom")
        _ = try await c.frame(startingWith: "40/custom,{")
        _ = try await c.frame(startingWith: "42/custom,[\"welcome\",\"/custom\"]")
        let unknown = try await connect(port, namespace: "/nowhere")
        _ = try await unknown.frame(startingWith: "44/nowhere,{\"message\":\"Invalid namespace\"}")
        await io.close()
    }

    func testAServerEmitWithAckGetsTheClientsAnswer() async throws {
        let (io, port) = try await startSocketIO()
        let socketBox = Mutex<SocketIOSocket?>(nil)
        io.onConnection { socket in socketBox.withLock { $0 = socket } }
        let client = try await connect(port)
        _ = try await client.frame(startingWith: "40{")
        await eventually { socketBox.withLock { $0 } != nil }
        let socket = try XCTUnwrap(socketBox.withLock { $0 })
        async let answer = socket.emitWithAck("question", .string("?"), timeout: .seconds(5))
        let asked = try await client.frame(startingWith: "42")
        let id = asked.dropFirst(2).prefix { $0.isNumber }
        client.send("43\(id)[\"yes\"]")
        let reply = try await answer
        XCTAssertEqual(reply, [.string("yes")])
        await io.close()
    }

    func testRunKeepsServingUntilClose() async throws {
        let (io, port) = try await startSocketIO()
        let finished = Atomic<Bool>(false)
        let runner = Task {
            try await io.run()
            finished.store(true, ordering: .relaxed)
        }
        try await Task.sleep(nanoseconds: 200_000_000)
        XCTAssertFalse(finished.load(ordering: .relaxed), "run() returned while the server was open")
        let client = try await connect(port)
        _ = try await client.frame(startingWith: "40{")
        await io.close()
        try await runner.value
        XCTAssertTrue(finished.load(ordering: .relaxed))
    }

    func testTheApplicationsOnCloseSurvivesAccept() async throws {
        let io = SocketIOServer()
        var configuration = WebSocketServer.Configuration()
        configuration.logger.logLevel = .critical
        io.mount(into: &configuration)
        let closes = Atomic<Int>(0)
        let server = WebSocketServer(configuration: configuration) { connection in
            connection.onClose { _ in closes.wrappingAdd(1, ordering: .relaxed) }  // set before accept
            _ = io.accept(connection)
        }
        let port = try await server.listen(port: 0)
        let client = try await connect(port)
        _ = try await client.frame(startingWith: "40{")
        client.socket.close()
        await eventually { closes.load(ordering: .relaxed) == 1 }
        await io.close()
        await server.close()
    }

    /// One rule for every object: `on…` of a kind replaces; named events add listeners.
    func testOnOfAKindReplacesAndNamedEventsAdd() async throws {
        let (io, port) = try await startSocketIO()
        let calls = Mutex<[String]>([])
        io.onConnection { socket in
            socket.onDisconnect { _ in calls.withLock { $0.append("first disconnect") } }
            socket.onDisconnect { reason in calls.withLock { $0.append("second disconnect: \(reason)") } }
            socket.on("ping-me") { _ in calls.withLock { $0.append("listener 1") } }
            socket.on("ping-me") { _ in calls.withLock { $0.append("listener 2") } }
        }
        let client = try await connect(port)
        _ = try await client.frame(startingWith: "40{")
        client.send("42[\"ping-me\"]")
        await eventually { calls.withLock { $0.count } == 2 }
        client.send("41")
        await eventually { calls.withLock { $0.count } == 3 }
        XCTAssertEqual(calls.withLock { $0 }, ["listener 1", "listener 2", "second disconnect: client namespace disconnect"])
        await io.close()
    }
}
