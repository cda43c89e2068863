import XCTest

@testable import Duplex

/// The connection lifecycle, case by case, without sockets.
final class WebSocketLifecycleTests: XCTestCase {
    typealias Action = WebSocketLifecycle.Action

    func testWeCloseFirstThenThePeerAnswers() {
        var server = WebSocketLifecycle(role: .server)
        XCTAssertEqual(server.close(code: .goingAway, reason: "bye"), [.sendClose(code: .goingAway, reason: "bye"), .startCloseTimer])
        XCTAssertEqual(server.readyState, .closing)
        XCTAssertEqual(server.close(code: .normalClosure, reason: ""), [], "a second close does nothing")
        // The server ends the TCP connection once the peer answered (§7.1.1); no second close frame.
        XCTAssertEqual(server.receivedClose(code: .goingAway, reason: ""), [.closeTransportAfterCloseFrame])
        XCTAssertEqual(server.transportClosed(), CloseEvent(code: .goingAway, reason: "", wasClean: true))
        XCTAssertEqual(server.readyState, .closed)
        XCTAssertNil(server.transportClosed(), "the close event comes once")
    }

    func testThePeerClosesFirst() {
        var server = WebSocketLifecycle(role: .server)
        XCTAssertEqual(server.receivedClose(code: .normalClosure, reason: "done"),
                       [.sendClose(code: .normalClosure, reason: ""), .closeTransportAfterCloseFrame])
        XCTAssertTrue(server.inputClosed)
        XCTAssertEqual(server.transportClosed(), CloseEvent(code: .normalClosure, reason: "done", wasClean: true))

        // A client echoes, then waits for the server to end the TCP connection (with a timer).
        var client = WebSocketLifecycle(role: .client)
        XCTAssertEqual(client.receivedClose(code: .goingAway, reason: ""), [.sendClose(code: .goingAway, reason: ""), .startCloseTimer])
        XCTAssertEqual(client.closeTimerFired(), [.closeTransport], "no timeout error: the peer did close")
    }

    func testAnEmptyCloseFrameIsEchoedEmptyAndReportedAs1005() {
        var server = WebSocketLifecycle(role: .server)
        XCTAssertEqual(server.receivedClose(code: .noStatusReceived, reason: ""), [.sendClose(code: nil, reason: ""), .closeTransportAfterCloseFrame])
        XCTAssertEqual(server.transportClosed()?.code, .noStatusReceived)
    }

    func testCodesThatMayNotBeSentBecome1000() {
        var lifecycle = WebSocketLifecycle(role: .server)
        XCTAssertEqual(lifecycle.close(code: .abnormalClosure, reason: "")[0], .sendClose(code: .normalClosure, reason: ""))
    }

    func testAnUnansweredCloseTimesOut() {
        var server = WebSocketLifecycle(role: .server)
        _ = server.close(code: .normalClosure, reason: "")
        XCTAssertEqual(server.closeTimerFired(), [.report(.closeTimeout), .closeTransport])
        XCTAssertEqual(server.transportClosed(), CloseEvent(code: .abnormalClosure, reason: "", wasClean: false))
    }

    func testAViolationFailsTheConnectionWithItsCode() {
        for code in [CloseCode.protocolError, .invalidFramePayloadData, .messageTooBig, .tryAgainLater] {
            var server = WebSocketLifecycle(role: .server)
            let violation = ProtocolViolation(code, "why")
            XCTAssertEqual(server.fail(violation), [.report(.protocolViolation(violation)), .sendClose(code: code, reason: "why"), .closeTransportAfterCloseFrame])
            XCTAssertTrue(server.inputClosed)
            XCTAssertEqual(server.transportClosed(), CloseEvent(code: code, reason: "why", wasClean: false))
        }
    }

    func testAViolationWhileClosingSendsNoSecondCloseFrame() {
        var server = WebSocketLifecycle(role: .server)
        _ = server.close(code: .normalClosure, reason: "")
        let violation = ProtocolViolation(.protocolError, "bad")
        XCTAssertEqual(server.fail(violation), [.report(.protocolViolation(violation)), .closeTransportAfterCloseFrame])
    }

    func testAThrowingHandlerCloses1011() {
        var server = WebSocketLifecycle(role: .server)
        XCTAssertEqual(server.handlerFailed("Boom"), [.report(.handlerFailed("Boom")), .sendClose(code: .internalServerError, reason: "internal error"), .startCloseTimer])
    }

    func testHeartbeatPingsThenDropsASilentPeer() {
        var server = WebSocketLifecycle(role: .server)
        XCTAssertEqual(server.heartbeat(), [.sendPing])
        server.peerActive()
        XCTAssertEqual(server.heartbeat(), [.sendPing], "the peer answered: ping again")
        XCTAssertEqual(server.heartbeat(), [.report(.heartbeatTimeout), .closeTransport], "silent for a whole interval")
        XCTAssertEqual(server.readyState, .open, "open until the TCP connection has closed")
        XCTAssertEqual(server.transportClosed(), CloseEvent(code: .abnormalClosure, reason: "heartbeat timeout", wasClean: false))
    }

    func testNoHeartbeatWhileClosing() {
        var server = WebSocketLifecycle(role: .server)
        _ = server.close(code: .normalClosure, reason: "")
        XCTAssertEqual(server.heartbeat(), [])
    }

    func testADroppedSlowReaderReportsItsCode() {
        var server = WebSocketLifecycle(role: .server)
        let actions = server.drop(code: .policyViolation, reason: "outbound buffer limit exceeded", error: .backpressureLimitExceeded(bufferedBytes: 9))
        XCTAssertEqual(actions, [.report(.backpressureLimitExceeded(bufferedBytes: 9)), .closeTransport])
        XCTAssertEqual(server.transportClosed(), CloseEvent(code: .policyViolation, reason: "outbound buffer limit exceeded", wasClean: false))
    }

    func testATransportErrorIsReportedOnlyWhileReading() {
        var open = WebSocketLifecycle(role: .server)
        XCTAssertEqual(open.transportFailed("reset"), [.report(.transport("reset")), .closeTransport])
        XCTAssertEqual(open.transportClosed(), CloseEvent(code: .abnormalClosure, reason: "", wasClean: false))

        var done = WebSocketLifecycle(role: .server)
        _ = done.receivedClose(code: .normalClosure, reason: "")
        XCTAssertEqual(done.transportFailed("no close_notify"), [.closeTransport], "after the close handshake: not news")
    }

    func testAnAbruptEndIs1006() {
        var server = WebSocketLifecycle(role: .server)
        XCTAssertEqual(server.transportClosed(), CloseEvent(code: .abnormalClosure, reason: "", wasClean: false))
        XCTAssertEqual(server.close(code: .normalClosure, reason: ""), [], "nothing after closed")
    }
}
