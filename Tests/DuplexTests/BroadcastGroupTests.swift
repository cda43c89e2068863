import NIOCore
import NIOPosix
import XCTest

@testable import Duplex

final class BroadcastGroupTests: XCTestCase {
    /// A server on three event loops whose connections all join `group`; a text "say:X"
    /// sends X to the group, "leave" leaves it.
    private func startGroupServer(_ group: BroadcastGroup, loops: MultiThreadedEventLoopGroup) async throws -> (WebSocketServer, Int) {
        var configuration = WebSocketServer.Configuration()
        configuration.logger.logLevel = .critical
        let server = WebSocketServer(configuration: configuration, group: loops) { connection in
            group.join(connection)
            connection.onText { text in
                if text.hasPrefix("say:") { group.send(String(text.dropFirst(4))) }
                if text == "leave" { group.leave(connection) }
            }
            connection.onBinary { data in group.send(data) }
        }
        return (server, try await server.listen(port: 0, host: "127.0.0.1"))
    }

    private func connectClients(_ count: Int, port: Int) async throws -> [(WebSocket, Recorder<WebSocketMessage>)] {
        var clients: [(WebSocket, Recorder<WebSocketMessage>)] = []
        for _ in 0..<count {
            let received = Recorder<WebSocketMessage>()
            let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
            socket.onMessage { received.append($0) }
            clients.append((socket, received))
        }
        return clients
    }

    func testEveryMemberOnEveryLoopGetsEachMessageOnce() async throws {
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 3)
        let group = BroadcastGroup()
        let (server, port) = try await startGroupServer(group, loops: loops)
        let clients = try await connectClients(7, port: port)
        await eventually { group.count == 7 }
        XCTAssertEqual(Set(group.connections.map { ObjectIdentifier($0.eventLoop) }).count, 3, "members spread over the loops")

        clients[0].0.send("say:hello")
        clients[5].0.send(ByteBuffer(bytes: [1, 2, 3]))
        for (_, received) in clients {
            await eventually { received.all.count == 2 }
            XCTAssertTrue(received.all.contains(.text("hello")), "\(received.all)")
            XCTAssertTrue(received.all.contains(.binary(ByteBuffer(bytes: [1, 2, 3]))), "\(received.all)")
        }
        try await Task.sleep(nanoseconds: 100_000_000)
        XCTAssertEqual(clients.map { $0.1.all.count }, Array(repeating: 2, count: 7), "no duplicates")
        for (socket, _) in clients { socket.close() }
        await server.close()
        try await loops.shutdownGracefully()
    }

    func testMembersLeaveExplicitlyOrWhenTheyClose() async throws {
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let group = BroadcastGroup()
        let (server, port) = try await startGroupServer(group, loops: loops)
        let clients = try await connectClients(4, port: port)
        await eventually { group.count == 4 }

        clients[1].0.send("leave")
        await eventually { group.count == 3 }
        clients[2].0.close()
        _ = try await clients[2].0.waitUntilClosed()
        await eventually { group.count == 2 }

        clients[0].0.send("say:after")
        await eventually { clients[3].1.all == [.text("after")] }
        await eventually { clients[0].1.all == [.text("after")] }
        try await Task.sleep(nanoseconds: 100_000_000)
        XCTAssertTrue(clients[1].1.all.isEmpty, "a member that left gets nothing")

        let member = group.connections[0]
        XCTAssertFalse(group.join(member), "already a member")
        XCTAssertTrue(group.leave(member))
        XCTAssertFalse(group.leave(member))
        await server.close()
        await eventually { group.count == 0 }
        try await loops.shutdownGracefully()
    }
}
