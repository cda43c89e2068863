/// The life of one WebSocket after its handshake (RFC 6455 §5.5.1, §7): the closing
/// handshake from either side, failures, drops, the close timeout and the heartbeat.
///
/// A pure state machine: each event returns the actions the connection must carry out
/// (write a close frame, start the close timer, close the TCP connection, send a ping,
/// report an error), and nothing here touches a channel or a clock, so every rule is
/// unit-tested without sockets (`WebSocketLifecycleTests`). What an open idle connection
/// holds is one word: the details of closing are allocated when closing begins.
struct WebSocketLifecycle {
    enum Role: Sendable { case server, client }

    /// What the connection must do, in order.
    enum Action: Equatable {
        /// Write (and flush) a close frame; `code` nil sends an empty payload.
        case sendClose(code: CloseCode?, reason: String)
        /// Start the timer after which an unanswered close ends the TCP connection.
        case startCloseTimer
        /// Close the TCP connection once the close frame just written has gone out (at once
        /// when none was written).
        case closeTransportAfterCloseFrame
        /// Close the TCP connection now.
        case closeTransport
        case sendPing
        /// Tell the user (the error event), and remember it for the message stream's end.
        case report(WebSocketError)
    }

    /// Details of a connection that has begun to close.
    final class Closing {
        /// The peer's close frame.
        var received: (code: CloseCode, reason: String)?
        /// Whether we wrote a close frame of our own.
        var sentClose = false
        /// Why we failed or dropped the connection.
        var failure: (code: CloseCode, reason: String)?
    }

    private enum State {
        case open(awaitingPong: Bool)
        /// Closing began (or an error was reported while open: `stillOpen`).
        case closing(Closing, stillOpen: Bool)
        case closed
    }

    let role: Role
    private var state = State.open(awaitingPong: false)

    init(role: Role) {
        self.role = role
    }

    var readyState: ReadyState {
        switch state {
        case .open: .open
        case .closing(_, let stillOpen): stillOpen ? .open : .closing
        case .closed: .closed
        }
    }

    /// Whether inbound frames are still read (not after the peer's close frame or a failure).
    private(set) var inputClosed = false

    private mutating func closingDetails(stillOpen: Bool) -> Closing {
        switch state {
        case .closing(let details, _):
            state = .closing(details, stillOpen: stillOpen)
            return details
        default:
            let details = Closing()
            state = .closing(details, stillOpen: stillOpen)
            return details
        }
    }

    // MARK: - Events

    /// Anything arrived from the peer: it is alive.
    mutating func peerActive() {
        if case .open(true) = state { state = .open(awaitingPong: false) }
    }

    /// The user (or the server's shutdown) closes: our close frame, then wait for theirs.
    mutating func close(code: CloseCode, reason: String) -> [Action] {
        guard readyState == .open else { return [] }
        let details = closingDetails(stillOpen: false)
        details.sentClose = true
        return [.sendClose(code: code.isValidOnWire ? code : .normalClosure, reason: reason), .startCloseTimer]
    }

    /// The peer's close frame arrived.
    mutating func receivedClose(code: CloseCode, reason: String) -> [Action] {
        guard readyState != .closed else { return [] }
        inputClosed = true
        let wasOpen = readyState == .open
        let details = closingDetails(stillOpen: false)
        details.received = (code, reason)
        var actions: [Action] = []
        if wasOpen {
            // Echo the code, as RFC 6455 §5.5.1 asks.
            details.sentClose = true
            actions.append(.sendClose(code: code == .noStatusReceived ? nil : code, reason: ""))
        }
        switch role {
        case .server:
            // The server closes the TCP connection first (§7.1.1).
            actions.append(.closeTransportAfterCloseFrame)
        case .client:
            // The server will close it; if it does not, the timer does.
            if wasOpen { actions.append(.startCloseTimer) }
        }
        return actions
    }

    /// The peer broke the protocol (or a limit): fail the connection (§7.1.7) with the
    /// violation's code, and drop the TCP connection without waiting for an answer.
    mutating func fail(_ violation: ProtocolViolation) -> [Action] {
        guard readyState != .closed else { return [] }
        inputClosed = true
        let wasOpen = readyState == .open
        let details = closingDetails(stillOpen: false)
        details.failure = (violation.code, violation.reason)
        var actions: [Action] = [.report(.protocolViolation(violation))]
        if wasOpen {
            details.sentClose = true
            actions.append(.sendClose(code: violation.code, reason: violation.reason))
        }
        actions.append(.closeTransportAfterCloseFrame)
        return actions
    }

    /// Drop the TCP connection at once, reporting `code` to the user: a peer that does not
    /// read (no close frame could reach it) or that stopped answering.
    mutating func drop(code: CloseCode, reason: String, error: WebSocketError) -> [Action] {
        guard readyState != .closed else { return [] }
        closingDetails(stillOpen: readyState == .open).failure = (code, reason)
        return [.report(error), .closeTransport]
    }

    /// A user handler threw: report it and close with 1011.
    mutating func handlerFailed(_ message: String) -> [Action] {
        guard readyState == .open else { return [.report(.handlerFailed(message))] }
        return [.report(.handlerFailed(message))] + close(code: .internalServerError, reason: "internal error")
    }

    /// The heartbeat's tick: ping, or drop a peer silent since the last ping.
    mutating func heartbeat() -> [Action] {
        guard case .open(let awaitingPong) = state else { return [] }
        if awaitingPong {
            return drop(code: .abnormalClosure, reason: "heartbeat timeout", error: .heartbeatTimeout)
        }
        state = .open(awaitingPong: true)
        return [.sendPing]
    }

    /// Our close frame was not answered in time.
    mutating func closeTimerFired() -> [Action] {
        guard readyState != .closed else { return [] }
        // We closed first and the peer never answered; a client that got the server's
        // close frame and waited for it to end the TCP connection just ends it itself.
        if case .closing(let details, _) = state, details.received == nil {
            return [.report(.closeTimeout), .closeTransport]
        }
        return [.closeTransport]
    }

    /// A transport error: the TCP connection goes. Reported unless the connection was
    /// already done reading (a TLS peer that skips close_notify after the close handshake).
    mutating func transportFailed(_ message: String) -> [Action] {
        guard !inputClosed, readyState != .closed else { return [.closeTransport] }
        return [.report(.transport(message)), .closeTransport]
    }

    /// The TCP connection has closed: the close event (once; nil afterwards).
    mutating func transportClosed() -> CloseEvent? {
        let event: CloseEvent
        switch state {
        case .closed:
            return nil
        case .open:
            event = CloseEvent(code: .abnormalClosure, reason: "", wasClean: false)
        case .closing(let details, _):
            if let (code, reason) = details.received {
                event = CloseEvent(code: code, reason: reason, wasClean: details.sentClose)
            } else if let failure = details.failure {
                event = CloseEvent(code: failure.code, reason: failure.reason, wasClean: false)
            } else {
                event = CloseEvent(code: .abnormalClosure, reason: "", wasClean: false)
            }
        }
        state = .closed
        return event
    }
}
