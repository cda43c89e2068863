import NIOCore
import NIOHTTP1
import XCTest

@testable import SocketIO
import Duplex

/// The pure parts of the Engine.IO server: the session's transport state machine, request
/// routing (the reference server's error codes), CORS headers, ids.
final class EngineIOSessionStateTests: XCTestCase {
    // MARK: - Polling

    func testPollWaitsThenFlushesQueuedPackets() {
        var state = EngineIOSessionState(transport: .polling)
        XCTAssertEqual(state.poll(), .hold)
        XCTAssertTrue(state.isWritable)
        XCTAssertEqual(state.send([.message("a")]), .flushPoll)
        XCTAssertEqual(state.send([.message("b")]), .flushPoll)
        XCTAssertEqual(state.flushPoll(), [.message("a"), .message("b")])
        XCTAssertNil(state.flushPoll(), "the poll was answered")
        XCTAssertFalse(state.isWritable)
    }

    func testAPollTakesAtMostMaxPacketsPerPollInWholeBatches() {
        var state = EngineIOSessionState(transport: .polling, maxPacketsPerPoll: 3)
        for i in 0..<4 { _ = state.send([.message("m\(i)")]) }
        let before = state.outboxBytes
        XCTAssertEqual(state.poll(), .respond([.message("m0"), .message("m1"), .message("m2")]))
        XCTAssertLessThan(state.outboxBytes, before, "what went out no longer counts")
        _ = state.send([.message("event"), .message("attachment")])  // one broadcast: never split
        _ = state.send([.message("last")])
        XCTAssertEqual(state.poll(), .respond([.message("m3"), .message("event"), .message("attachment")]))
        XCTAssertEqual(state.poll(), .respond([.message("last")]))
        XCTAssertEqual(state.outboxBytes, 0)
        XCTAssertEqual(state.poll(), .hold)
        // A batch larger than the limit still goes, alone.
        XCTAssertEqual(state.send((0..<5).map { .message("b\($0)") }), .flushPoll)
        XCTAssertEqual(state.flushPoll()?.count, 5)
    }

    func testPollAnsweredAtOnceWhenPacketsAreQueued() {
        var state = EngineIOSessionState(transport: .polling)
        XCTAssertEqual(state.send([.ping()]), .none)
        XCTAssertEqual(state.send([.message("x")]), .none)
        XCTAssertEqual(state.poll(), .respond([.ping(), .message("x")]))
        XCTAssertEqual(state.poll(), .hold)
    }

    func testSecondConcurrentPollIsAnOverlap() {
        var state = EngineIOSessionState(transport: .polling)
        XCTAssertEqual(state.poll(), .hold)
        XCTAssertEqual(state.poll(), .overlap)
        XCTAssertTrue(state.close(), "the first poll is still pending and must be answered")
        XCTAssertEqual(state.poll(), .reject)
    }

    func testAbandonedPollIsNoLongerPending() {
        var state = EngineIOSessionState(transport: .polling)
        XCTAssertEqual(state.poll(), .hold)
        state.pollAbandoned()
        XCTAssertFalse(state.close())
    }

    func testClosedSessionDropsPackets() {
        var state = EngineIOSessionState(transport: .polling)
        _ = state.send([.message("lost")])
        XCTAssertFalse(state.close())
        XCTAssertFalse(state.close(), "closing twice is a no-op")
        XCTAssertEqual(state.send([.message("x")]), .none)
        XCTAssertEqual(state.poll(), .reject)
        XCTAssertTrue(state.outbox.isEmpty)
    }

    // MARK: - WebSocket

    func testWebSocketSessionWritesDirectly() {
        var state = EngineIOSessionState(transport: .websocket)
        XCTAssertEqual(state.send([.message("a")]), .writeWebSocket([.message("a")]))
        XCTAssertEqual(state.poll(), .reject, "GET on a WebSocket session: 400")
        XCTAssertFalse(state.beginUpgrade())
        XCTAssertEqual(state.transport, .websocket)
    }

    // MARK: - Upgrade

    func testUpgradeProbeReleasesPendingPollWithNoop() {
        var state = EngineIOSessionState(transport: .polling)
        XCTAssertEqual(state.poll(), .hold)
        XCTAssertTrue(state.beginUpgrade())
        XCTAssertFalse(state.beginUpgrade(), "a second WebSocket is refused")
        XCTAssertEqual(state.probe(), .answer(releasePoll: [.noop]))
        // a poll during the upgrade is released at once
        XCTAssertEqual(state.poll(), .respond([.noop]))
        // packets sent during the upgrade wait for the WebSocket
        XCTAssertEqual(state.send([.message("queued")]), .none)
        let completed = state.completeUpgrade()
        XCTAssertEqual(completed?.flush, [.message("queued")])
        XCTAssertEqual(completed?.releasePoll, false)
        XCTAssertEqual(state.phase, .websocket)
        XCTAssertEqual(state.poll(), .reject, "GET after the upgrade: 400")
        XCTAssertEqual(state.send([.message("b")]), .writeWebSocket([.message("b")]))
    }

    func testProbeWithoutPendingPoll() {
        var state = EngineIOSessionState(transport: .polling)
        XCTAssertTrue(state.beginUpgrade())
        XCTAssertEqual(state.probe(), .answer(releasePoll: nil))
        XCTAssertNotNil(state.completeUpgrade())
    }

    func testUpgradeWithoutProbeFails() {
        var state = EngineIOSessionState(transport: .polling)
        XCTAssertTrue(state.beginUpgrade())
        XCTAssertNil(state.completeUpgrade())
        state.abortUpgrade()
        XCTAssertEqual(state.phase, .polling)
        XCTAssertEqual(state.poll(), .hold, "still a polling session")
    }

    func testProbeOutsideAnUpgradeIsInvalid() {
        var state = EngineIOSessionState(transport: .polling)
        XCTAssertEqual(state.probe(), .invalid)
    }

    func testPendingPollAtUpgradeCompletionIsReleased() {
        var state = EngineIOSessionState(transport: .polling)
        XCTAssertTrue(state.beginUpgrade())
        XCTAssertEqual(state.probe(), .answer(releasePoll: nil))
        // (a client would not poll here; the state machine still releases it)
        XCTAssertEqual(state.poll(), .respond([.noop]))
        XCTAssertEqual(state.completeUpgrade()?.releasePoll, false)
    }

    // MARK: - Routing

    private func route(_ query: [String: String], method: HTTPMethod = .GET, ws: Bool = false,
                       options: EngineIOOptions = EngineIOOptions(), allow: EngineIOAllowDecision? = nil) -> EngineIORoute {
        EngineIORoute.route(method: method, query: query, isWebSocket: ws, options: options, allow: allow.map { decision in { decision } })
    }

    private func code(_ route: EngineIORoute) -> EngineIOErrorCode? {
        if case .error(let error) = route { return error.code }
        return nil
    }

    func testRoutingErrorCodesAsTheReferenceServer() {
        XCTAssertEqual(route(["EIO": "4", "transport": "polling"]), .handshake(.polling))
        XCTAssertEqual(route(["EIO": "4", "transport": "websocket"], ws: true), .handshake(.websocket))
        XCTAssertEqual(code(route(["EIO": "4"])), .unknownTransport, "a missing transport is not polling")
        XCTAssertEqual(code(route(["EIO": "4", "transport": "abc"])), .unknownTransport)
        XCTAssertEqual(code(route(["transport": "polling"])), .unsupportedProtocolVersion)
        XCTAssertEqual(code(route(["EIO": "abc", "transport": "polling"])), .unsupportedProtocolVersion)
        XCTAssertEqual(code(route(["EIO": "3", "transport": "polling"])), .unsupportedProtocolVersion)
        XCTAssertEqual(code(route(["EIO": "4", "transport": "polling"], method: .POST)), .badHandshakeMethod)
        XCTAssertEqual(code(route(["EIO": "4", "transport": "polling"], method: .PUT)), .badHandshakeMethod)
        XCTAssertEqual(code(route(["EIO": "4", "transport": "websocket"])), .badRequest, "websocket without an upgrade")
        XCTAssertEqual(route(["EIO": "4", "transport": "polling", "sid": "x"], method: .POST), .session(sid: "x", transport: .polling))
        XCTAssertEqual(route(["EIO": "4", "transport": "websocket", "sid": "x"], ws: true), .session(sid: "x", transport: .websocket))
    }

    func testAllowRequestHook() {
        XCTAssertEqual(route(["EIO": "4", "transport": "polling"], allow: .allow), .handshake(.polling))
        let denied = route(["EIO": "4", "transport": "polling"], allow: .deny(message: "no thanks"))
        XCTAssertEqual(denied, .error(EngineIORequestError(.forbidden, message: "no thanks")))
        XCTAssertEqual(code(route(["EIO": "4", "transport": "polling"], allow: .deny(message: nil))), .forbidden)
        XCTAssertEqual(EngineIOErrorCode.forbidden.status, .forbidden)
        XCTAssertEqual(EngineIOErrorCode.badRequest.status, .badRequest)
        // the hook is only asked about handshakes
        XCTAssertEqual(route(["EIO": "4", "transport": "polling", "sid": "x"], allow: .deny(message: nil)),
                       .session(sid: "x", transport: .polling))
    }

    func testTransportsOption() {
        var options = EngineIOOptions()
        options.transports = [.websocket]
        XCTAssertEqual(code(route(["EIO": "4", "transport": "polling"], options: options)), .unknownTransport)
        XCTAssertEqual(route(["EIO": "4", "transport": "websocket"], ws: true, options: options), .handshake(.websocket))
        options.transports = [.polling, .websocket]
        options.allowUpgrades = false
        XCTAssertEqual(code(route(["EIO": "4", "transport": "websocket", "sid": "x"], ws: true, options: options)), .badRequest)
    }

    func testErrorJSON() {
        XCTAssertEqual(EngineIORequestError(.unknownSessionID).json, #"{"code":1,"message":"Session ID unknown"}"#)
        XCTAssertEqual(EngineIORequestError(.unknownTransport).json, #"{"code":0,"message":"Transport unknown"}"#)
        XCTAssertEqual(EngineIORequestError(.badHandshakeMethod).json, #"{"code":2,"message":"Bad handshake method"}"#)
        XCTAssertEqual(EngineIORequestError(.badRequest).json, #"{"code":3,"message":"Bad request"}"#)
        XCTAssertEqual(EngineIORequestError(.unsupportedProtocolVersion).json, #"{"code":5,"message":"Unsupported protocol version"}"#)
    }

    // MARK: - CORS, path, ids

    func testPreflightAndCORSHeaders() {
        var options = EngineIOOptions()
        XCTAssertNotEqual(route([:], method: .OPTIONS, options: options), .preflight, "no CORS configured: no preflight")
        options.cors = EngineIOCORSOptions(origin: .list(["https://a.example"]), credentials: true)
        XCTAssertEqual(route([:], method: .OPTIONS, options: options), .preflight)

        let request: HTTPHeaders = ["Origin": "https://a.example", "Access-Control-Request-Headers": "x-token"]
        let headers = EngineIOCORS.headers(for: request, options: options.cors!, preflight: true)
        XCTAssertEqual(headers.first(name: "access-control-allow-origin"), "https://a.example")
        XCTAssertEqual(headers.first(name: "access-control-allow-credentials"), "true")
        XCTAssertEqual(headers.first(name: "access-control-allow-headers"), "x-token")
        XCTAssertEqual(headers.first(name: "access-control-allow-methods"), "GET,POST")

        let other = EngineIOCORS.headers(for: ["Origin": "https://evil.example"], options: options.cors!, preflight: false)
        XCTAssertNil(other.first(name: "access-control-allow-origin"))

        let any = EngineIOCORS.headers(for: ["Origin": "https://b.example"], options: EngineIOCORSOptions(), preflight: false)
        XCTAssertEqual(any.first(name: "access-control-allow-origin"), "*")
    }

    func testPathMatching() {
        var options = EngineIOOptions()
        options.path = "/socket.io/"
        XCTAssertTrue(options.matches(path: "/socket.io/"))
        XCTAssertTrue(options.matches(path: "/socket.io"))
        XCTAssertFalse(options.matches(path: "/socket.iox/"))
        XCTAssertFalse(options.matches(path: "/"))
        XCTAssertEqual(URIQuery.split("/socket.io/?EIO=4&transport=polling&t=a%20b").query,
                       ["EIO": "4", "transport": "polling", "t": "a b"])
    }

    func testRandomIDs() {
        let ids = (0..<1000).map { _ in RandomID.make() }
        XCTAssertEqual(Set(ids).count, ids.count)
        for id in ids.prefix(20) {
            XCTAssertEqual(id.count, 20)
            XCTAssertTrue(id.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        }
    }
}
