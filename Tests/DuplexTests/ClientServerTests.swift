import NIOCore
import NIOHTTP1
import NIOPosix
import XCTest

@testable import Duplex

/// The Duplex client against the Duplex server, in process, over real TCP sockets.
final class ClientServerTests: XCTestCase {
    func testEchoTextBinaryAndLargeMessages() async throws {
        let (server, port) = try await startEchoServer()
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/echo?x=1", configuration: clientConfiguration())
        XCTAssertEqual(socket.readyState, .open)
        XCTAssertEqual(socket.extensions, "", "the server does not compress by default")
        let big = String(repeating: "0123456789abcdef", count: 65536)  // 1 MiB
        socket.send("hello")
        socket.send([1, 2, 3])
        socket.send(big)
        var received: [WebSocketMessage] = []
        for try await message in socket.messages {
            received.append(message)
            if received.count == 3 { break }
        }
        XCTAssertEqual(received[0], .text("hello"))
        XCTAssertEqual(received[1], .binary(ByteBuffer(bytes: [1, 2, 3])))
        XCTAssertEqual(received[2], .text(big))
        XCTAssertEqual(server.connections.first?.path, "/echo")
        XCTAssertEqual(server.connections.first?.query, ["x": "1"])
        socket.close(code: .normalClosure, reason: "done")
        await eventually { socket.readyState != .open }
        XCTAssertTrue([.closing, .closed].contains(socket.readyState))
        let event = await socket.waitUntilClosed()
        XCTAssertEqual(event, CloseEvent(code: .normalClosure, reason: "", wasClean: true))
        XCTAssertEqual(socket.readyState, .closed)
        await server.close()
    }

    func testBrowserStyleEventsAndCloseCodes() async throws {
        let serverEvents = Recorder<CloseEvent>()
        let (server, port) = try await startEchoServer(onConnection: { connection in
            connection.onClose { serverEvents.append($0) }
            connection.onText { text in
                if text == "close please" { connection.close(code: CloseCode(4001), reason: "as asked") }
            }
        })
        let socket = try WebSocket(url: "ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        XCTAssertEqual(socket.readyState, .connecting)
        let log = Recorder<String>()
        socket.onOpen {
            log.append("open")
            socket.send("close please")
        }
        socket.onClose { log.append("close \($0.code.rawValue) \($0.reason) \($0.wasClean)") }
        socket.onError { log.append("error \($0)") }
        let event = await socket.waitUntilClosed()
        XCTAssertEqual(event, CloseEvent(code: CloseCode(4001), reason: "as asked", wasClean: true))
        await eventually { log.all.count == 2 }
        XCTAssertEqual(log.all, ["open", "close 4001 as asked true"])
        await eventually { serverEvents.all.count == 1 }
        XCTAssertEqual(serverEvents.all.first?.code, CloseCode(4001))
        await server.close()
    }

    func testClientCloseCodeReachesServer() async throws {
        let serverEvents = Recorder<CloseEvent>()
        let (server, port) = try await startEchoServer(onConnection: { connection in
            connection.onClose { serverEvents.append($0) }
        })
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        socket.close(code: CloseCode(3001), reason: "bye ✓")
        let event = await socket.waitUntilClosed()
        XCTAssertEqual(event.code, CloseCode(3001), "the server echoes the code")
        XCTAssertTrue(event.wasClean)
        await eventually { serverEvents.all.count == 1 }
        XCTAssertEqual(serverEvents.all.first, CloseEvent(code: CloseCode(3001), reason: "bye ✓", wasClean: true))
        await server.close()
    }

    func testMessagesSentRightAfterTheHandshakeAreNotLost() async throws {
        let (server, port) = try await startEchoServer(onConnection: { connection in
            for i in 0..<10 { connection.send("greeting \(i)") }
            connection.close()
        })
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        try await Task.sleep(nanoseconds: 100_000_000)  // everything arrived before anyone listens
        var texts: [String] = []
        for try await message in socket.messages {
            if case .text(let text) = message { texts.append(text) }
        }
        XCTAssertEqual(texts, (0..<10).map { "greeting \($0)" })
        await server.close()
    }

    /// Issue 12: the client face keeps no handlers, buffer or stream of its own once open:
    /// they are its connection's. Messages nobody consumes are kept by the connection, at
    /// most 64 before it stops reading, and reach the first consumer in order.
    func testTheClientIsAFaceOverItsConnection() async throws {
        let (server, port) = try await startEchoServer(onConnection: { connection in
            connection.onText { text in
                if text == "burst" { for i in 0..<300 { connection.send("m\(i)") } }
                if text == "big" { for i in 0..<200 { connection.send("m\(i) " + String(repeating: "x", count: 60_000)) } }
            }
        })
        let socket = try WebSocket(url: "ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        let early = Recorder<String>()
        socket.onText { early.append($0) }  // set before the connection exists
        try await socket.waitUntilOpen()
        let connection = try XCTUnwrap(socket.connection)
        socket.send("burst")
        await eventually { early.all.count == 300 }
        XCTAssertEqual(early.all, (0..<300).map { "m\($0)" }, "the early handler became the connection's")

        // One home for handlers: replacing the connection's replaces the face's.
        let replaced = Recorder<String>()
        connection.onText { replaced.append($0) }
        socket.onText { _ in }  // the face sets the same (only) text handler
        socket.onText { replaced.append("face " + $0) }
        socket.send("burst")
        await eventually { replaced.all.count == 300 }
        XCTAssertEqual(replaced.all.first, "face m0")
        XCTAssertEqual(early.all.count, 300, "the replaced handler got nothing more")

        // Nobody consumes: the connection keeps 64 and pauses reading (what the read cycle
        // under way already holds still comes in: one cycle reads at most 16 buffers).
        connection.setHandler { $0.text = nil }
        try await Task.sleep(nanoseconds: 50_000_000)
        socket.send("big")
        let keptCount = { try await connection.eventLoop.submit { connection.unconsumed?.count ?? -1 }.get() }
        for _ in 0..<100 where try await keptCount() < WebSocketConnection.unconsumedLimit {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        try await Task.sleep(nanoseconds: 300_000_000)  // time to overrun the limit if it did not pause
        let kept = try await keptCount()
        XCTAssertEqual(socket.readyState, .open)
        XCTAssertGreaterThanOrEqual(kept, WebSocketConnection.unconsumedLimit)
        XCTAssertLessThanOrEqual(kept, WebSocketConnection.unconsumedLimit + 20, "reading paused at the limit")
        var texts: [String] = []
        for try await message in socket.messages {
            if case .text(let text) = message { texts.append(String(text.prefix(while: { $0 != " " }))) }
            if texts.count == 200 { break }
        }
        XCTAssertEqual(texts, (0..<200).map { "m\($0)" }, "nothing lost to the pause, in order")
        socket.close()
        await socket.waitUntilClosed()
        await server.close()
    }

    func testSubprotocolsAndHeaders() async throws {
        let (server, port) = try await startEchoServer({ configuration in
            configuration.selectSubprotocol = { offered, _ in offered.contains("chat.v2") ? "chat.v2" : nil }
            configuration.allowedOrigins = .sameOrigin(alsoAllow: ["https://example.com"])
        })
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/", protocols: ["chat.v1", "chat.v2"],
                                                 headers: ["Authorization": "Bearer t0ken", "Origin": "https://example.com"],
                                                 configuration: clientConfiguration())
        XCTAssertEqual(socket.protocol, "chat.v2")
        await eventually { !server.connections.isEmpty }  // registered just after the 101 is written
        let connection = try XCTUnwrap(server.connections.first)
        XCTAssertEqual(connection.subprotocol, "chat.v2")
        XCTAssertEqual(connection.headers.first(name: "authorization"), "Bearer t0ken")
        XCTAssertEqual(connection.headers.first(name: "origin"), "https://example.com")
        socket.close()
        await socket.waitUntilClosed()
        await server.close()
    }

    func testCompressionBothModes() async throws {
        for mode in [PerMessageDeflateOptions.Mode.shared, .contextTakeover] {
            let (server, port) = try await startEchoServer({ configuration in
                configuration.webSocket.compression = PerMessageDeflateOptions(mode: mode, minimumSize: 16)
            })
            var configuration = clientConfiguration()
            configuration.webSocket.compression = PerMessageDeflateOptions(mode: mode, minimumSize: 16)
            let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: configuration)
            XCTAssertTrue(socket.extensions.hasPrefix("permessage-deflate"), socket.extensions)
            if mode == .shared {
                XCTAssertTrue(socket.extensions.contains("server_no_context_takeover"))
                XCTAssertTrue(socket.extensions.contains("client_no_context_takeover"))
            } else {
                XCTAssertEqual(socket.extensions, "permessage-deflate")
            }
            let messages: [WebSocketMessage] = [
                .text("short"), .text(String(repeating: "compress me ", count: 1000)), .text("Grüße, 世界 " + String(repeating: "ü", count: 500)),
                .binary(ByteBuffer(bytes: (0..<200_000).map { UInt8($0 % 251) })), .text(""), .binary(ByteBuffer()),
            ]
            for message in messages {
                switch message {
                case .text(let text): socket.send(text)
                case .binary(let data): socket.send(data)
                }
            }
            var received: [WebSocketMessage] = []
            for try await message in socket.messages {
                received.append(message)
                if received.count == messages.count { break }
            }
            XCTAssertEqual(received, messages, "mode \(mode)")
            socket.close()
            await socket.waitUntilClosed()
            await server.close()
        }
    }

    func testServerDeclinesCompressionWhenOff() async throws {
        let (server, port) = try await startEchoServer()
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        XCTAssertEqual(socket.extensions, "")
        await eventually { !server.connections.isEmpty }
        XCTAssertFalse(try XCTUnwrap(server.connections.first).isCompressionEnabled)
        socket.close()
        await socket.waitUntilClosed()
        await server.close()
    }

    func testMaxMessageSizeAppliesToTheClient() async throws {
        let (server, port) = try await startEchoServer(onConnection: { connection in
            connection.onText { _ in connection.send(String(repeating: "x", count: 2000)) }
        })
        var configuration = clientConfiguration()
        configuration.webSocket.maxMessageSize = 1000
        let socket = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: configuration)
        let errors = Recorder<String>()
        socket.onError { errors.append("\($0)") }
        socket.send("go")
        let event = await socket.waitUntilClosed()
        XCTAssertEqual(event.code, .messageTooBig)
        XCTAssertFalse(event.wasClean)
        await eventually { !errors.all.isEmpty }
        await server.close()
    }

    func testBroadcastReachesCompressedAndPlainClients() async throws {
        let (server, port) = try await startEchoServer({ configuration in
            configuration.webSocket.compression = PerMessageDeflateOptions(minimumSize: 10)
        }, onConnection: { _ in })
        var plain = clientConfiguration()
        plain.webSocket.compression = nil
        var sockets: [WebSocket] = []
        for configuration in [clientConfiguration(), clientConfiguration(), plain] {
            sockets.append(try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: configuration))
        }
        await eventually { server.connections.count == 3 }
        let encodings = server.connections.map(\.broadcastEncoding)
        XCTAssertEqual(encodings.filter { $0 == .plain }.count, 1)
        XCTAssertEqual(Set(encodings.filter { $0 != .plain }.map { "\($0)" }).count, 1, "same shared key: one compression")
        let text = String(repeating: "broadcast ", count: 300)
        let compressedLoops = Set(server.connections.filter { $0.broadcastEncoding != .plain }.map { ObjectIdentifier($0.eventLoop) })
        let compressionsBefore = PerMessageDeflateCodec.debugCompressions.load(ordering: .relaxed)
        server.broadcast(text)
        WebSocketServer.broadcast(ByteBuffer(string: "to all"), to: server.connections)
        for socket in sockets {
            var iterator = socket.messages.makeAsyncIterator()
            let first = try await iterator.next()
            let second = try await iterator.next()
            XCTAssertEqual(first, .text(text))
            XCTAssertEqual(second, .binary(ByteBuffer(string: "to all")))
        }
        // Each event loop frames a broadcast for its own recipients: one compression per
        // loop that has compressed recipients, not one per recipient.
        XCTAssertEqual(PerMessageDeflateCodec.debugCompressions.load(ordering: .relaxed) - compressionsBefore,
                       compressedLoops.count, "one compression per event loop")
        await server.close()
        for socket in sockets {
            let event = await socket.waitUntilClosed()
            XCTAssertEqual(event.code, .goingAway)
        }
    }

    func testBroadcastWithContextTakeoverCompressesPerRecipient() async throws {
        let (server, port) = try await startEchoServer({ configuration in
            configuration.webSocket.compression = PerMessageDeflateOptions(mode: .contextTakeover, minimumSize: 10)
        }, onConnection: { _ in })
        var configuration = clientConfiguration()
        configuration.webSocket.compression = PerMessageDeflateOptions(mode: .contextTakeover, minimumSize: 10)
        var sockets: [WebSocket] = []
        for _ in 0..<2 { sockets.append(try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: configuration)) }
        await eventually { server.connections.count == 2 }
        XCTAssertEqual(server.connections.map(\.broadcastEncoding), [.dedicated(minimumSize: 10), .dedicated(minimumSize: 10)])
        let before = PerMessageDeflateCodec.debugCompressions.load(ordering: .relaxed)
        let texts = (0..<3).map { String(repeating: "round \($0) ", count: 200) }
        for text in texts { server.broadcast(text) }
        for socket in sockets {
            var iterator = socket.messages.makeAsyncIterator()
            for text in texts {
                let received = try await iterator.next()
                XCTAssertEqual(received, .text(text))
            }
        }
        XCTAssertEqual(PerMessageDeflateCodec.debugCompressions.load(ordering: .relaxed) - before, 6, "each recipient's own context")
        await server.close()
    }

    func testCompressedFramesOnTheWire() async throws {
        // A raw peer sees the negotiated header and RSV1 on the echoed frame.
        let (server, port) = try await startEchoServer({ configuration in
            configuration.webSocket.compression = PerMessageDeflateOptions(minimumSize: 1)
        })
        let raw = try await RawClient(port: port)
        try await raw.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                           + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
        await eventually { raw.bodyAfterHead != nil }
        XCTAssertTrue(raw.text.contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"), raw.text)
        // "Hello" compressed (RFC 7692 §7.2.3.1), masked.
        try await raw.send(rawFrame(0x1, [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], rsv: 0x40))
        await eventually { (raw.bodyAfterHead?.readableBytes ?? 0) >= 9 }
        XCTAssertEqual(Array(raw.bodyAfterHead!.readableBytesView.prefix(9)), [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        await server.close()
    }

    func testCompressFalseSendsThatMessagePlain() async throws {
        // With permessage-deflate on, `compress: false` skips compression for that message
        // only (Node ws' `send(data, { compress: false })`): RSV1 clear, then set again.
        let (server, port) = try await startEchoServer({ configuration in
            configuration.webSocket.compression = PerMessageDeflateOptions(minimumSize: 1)
        }, onConnection: { connection in
            connection.send("plain", compress: false)
            connection.send(ByteBuffer(string: "bytes"), compress: false)
            connection.send("Hello")
            // The same through a broadcast (framed once per loop): plain, then compressed.
            WebSocketServer.broadcast("casting", to: [connection], compress: false)
            WebSocketServer.broadcast("Hello", to: [connection])
        })
        let raw = try await RawClient(port: port)
        try await raw.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                           + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
        await eventually { (raw.bodyAfterHead?.readableBytes ?? 0) >= 7 + 7 + 9 + 9 + 9 }
        let bytes = Array(raw.bodyAfterHead!.readableBytesView)
        XCTAssertEqual(Array(bytes[0..<7]), [0x81, 0x05] + Array("plain".utf8), "text, RSV1 clear")
        XCTAssertEqual(Array(bytes[7..<14]), [0x82, 0x05] + Array("bytes".utf8), "binary, RSV1 clear")
        XCTAssertEqual(Array(bytes[14..<23]), [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], "compressed as before")
        XCTAssertEqual(Array(bytes[23..<32]), [0x81, 0x07] + Array("casting".utf8), "broadcast, RSV1 clear")
        XCTAssertEqual(Array(bytes[32..<41]), [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], "broadcast, compressed")
        await server.close()
    }

    func testMalformedExtensionHeaderIs400() async throws {
        let (server, port) = try await startEchoServer({ configuration in
            configuration.webSocket.compression = .shared
        })
        let raw = try await RawClient(port: port)
        try await raw.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                           + "Sec-WebSocket-Extensions: permessage-deflate; =oops\r\n\r\n")
        await eventually { raw.isClosed }
        XCTAssertTrue(raw.text.hasPrefix("HTTP/1.1 400 Bad Request"), raw.text)
        XCTAssertTrue(raw.text.contains("malformed Sec-WebSocket-Extensions"), raw.text)
        await server.close()
    }
}

/// Every way the opening handshake can fail, each with its own error.
final class ClientHandshakeErrorTests: XCTestCase {
    private func failure(_ url: String, configuration: WebSocket.Configuration = clientConfiguration()) async -> WebSocketClientError? {
        do {
            let socket = try await WebSocket.connect(url, configuration: configuration)
            socket.terminate()
            return nil
        } catch {
            return error as? WebSocketClientError
        }
    }

    private func canned(_ response: @escaping @Sendable (String) -> String?) async throws -> CannedServer {
        try await CannedServer(respond: response)
    }

    func testRefusedAndDNS() async throws {
        // A port that was free a moment ago.
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()
        guard case .connectionRefused(let host, let refusedPort)? = await failure("ws://127.0.0.1:\(port)/") else { return XCTFail() }
        XCTAssertEqual(host, "127.0.0.1")
        XCTAssertEqual(refusedPort, port)
        guard case .dnsFailure(let name, _)? = await failure("ws://no-such-host.invalid/") else { return XCTFail() }
        XCTAssertEqual(name, "no-such-host.invalid")
    }

    func testStatusRedirectAndRejection() async throws {
        let (server, port) = try await startEchoServer({ configuration in
            configuration.shouldUpgrade = { head, _ in
                head.uri == "/private" ? .reject(HandshakeError(status: .forbidden, reason: "no token")) : .accept()
            }
        })
        let error = await failure("ws://127.0.0.1:\(port)/private")
        XCTAssertEqual(error, .unexpectedStatus(status: 403, reason: "Forbidden", body: "no token\n"))
        XCTAssertEqual(error?.status, 403)
        XCTAssertTrue(error!.description.contains("403"))
        await server.close()

        let redirecting = try await canned { _ in
            "HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nContent-Length: 0\r\n\r\n"
        }
        let redirect = await failure("ws://127.0.0.1:\(redirecting.port)/")
        XCTAssertEqual(redirect, .redirect(status: 302, location: "ws://elsewhere/"))
        await redirecting.close()
    }

    func testBadResponses() async throws {
        let badAccept = try await canned { _ in
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n"
        }
        guard case .badAcceptKey(_, let received)? = await failure("ws://127.0.0.1:\(badAccept.port)/") else { return XCTFail() }
        XCTAssertEqual(received, "bm9wZQ==")
        await badAccept.close()

        let cases: [(String, @Sendable (String) -> String)] = [
            ("Upgrade", { request in
                "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(CannedServer.accept(for: request))\r\n\r\n"
            }),
            ("subprotocol", { request in
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(CannedServer.accept(for: request))\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
            }),
            ("x-unknown", { request in
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(CannedServer.accept(for: request))\r\nSec-WebSocket-Extensions: x-unknown\r\n\r\n"
            }),
        ]
        for (fragment, response) in cases {
            let server = try await canned(response)
            guard case .invalidResponse(let reason)? = await failure("ws://127.0.0.1:\(server.port)/") else { XCTFail(fragment); continue }
            XCTAssertTrue(reason.contains(fragment), reason)
            await server.close()
        }
    }

    func testTimeoutAndEarlyClose() async throws {
        let silent = try await canned { _ in nil }
        var configuration = clientConfiguration()
        configuration.connectTimeout = .milliseconds(300)
        let timeout = await failure("ws://127.0.0.1:\(silent.port)/", configuration: configuration)
        XCTAssertEqual(timeout, .timeout(seconds: 0.3))
        await silent.close()
    }

    func testFailureIsAlsoAnErrorAndCloseEvent() async throws {
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()
        let socket = try WebSocket(url: "ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        let log = Recorder<String>()
        socket.onError { log.append("error \(type(of: $0))") }
        socket.onClose { log.append("close \($0.code.rawValue) \($0.wasClean)") }
        let event = await socket.waitUntilClosed()
        XCTAssertEqual(event.code, .abnormalClosure)
        await eventually { log.all.count == 2 }
        XCTAssertEqual(log.all, ["error WebSocketClientError", "close 1006 false"])
        do {
            for try await _ in socket.messages {}
            XCTFail("the sequence throws the handshake error")
        } catch {
            XCTAssertEqual(error as? WebSocketClientError, .connectionRefused(host: "127.0.0.1", port: port))
        }
    }

    func testHandlersSetLateStillGetTheEventsThatHappened() async throws {
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()
        let socket = try WebSocket(url: "ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
        await socket.waitUntilClosed()
        let log = Recorder<String>()
        socket.onOpen { log.append("open") }
        socket.onError { _ in log.append("error") }
        socket.onClose { log.append("close \($0.code.rawValue)") }
        socket.onClose { log.append("close again \($0.code.rawValue)") }
        await eventually { log.all.count == 2 }
        try await Task.sleep(nanoseconds: 50_000_000)
        XCTAssertEqual(log.all, ["error", "close 1006"], "each missed event once, never an open that did not happen")
    }

    func testInvalidURLThrowsAtOnce() {
        XCTAssertThrowsError(try WebSocket(url: "http//nope")) { XCTAssertNotNil($0 as? WebSocketClientError) }
        XCTAssertThrowsError(try WebSocket(url: "ws://x/", protocols: ["a b"]))
        XCTAssertThrowsError(try WebSocket(url: "ws://x/", protocols: ["a", "a"]))
    }
}
