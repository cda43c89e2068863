import NIOCore

/// Carrying out the lifecycle's actions on the channel (`WebSocketLifecycle` decides).
extension WebSocketConnection {
    /// The I/O side of closing, allocated when closing begins (idle connections carry a pointer).
    final class CloseIO {
        /// Our close frame's write.
        var frameWrite: EventLoopFuture<Void>?
        var timer: Scheduled<Void>?
        /// The last error reported, for the end of the `messages` stream.
        var lastError: WebSocketError?
        /// How it ended, for observers that come late.
        var closedEvent: CloseEvent?
    }

    var closeIO: CloseIO {
        if let closeState { return closeState }
        let created = CloseIO()
        closeState = created
        return created
    }

    static let budgetReason = "server memory budget exceeded"
    /// The write buffer's high-water mark on server connections: a backlog beyond it is
    /// checked against `maxBufferedAmount` and charged to the server's memory budget.
    static let outboundHighWaterMark = 64 * 1024

    /// Carries out `actions` in order, then publishes the new ready state.
    func apply(_ actions: [WebSocketLifecycle.Action]) {
        for action in actions {
            switch action {
            case .sendClose(let code, let reason):
                writeCloseFrame(code: code, reason: reason)
            case .startCloseTimer:
                closeIO.timer = eventLoop.scheduleTask(in: configuration.closeTimeout) { [self] in
                    logger.debug("close handshake timed out")
                    apply(lifecycle.closeTimerFired())
                }
            case .closeTransportAfterCloseFrame:
                context?.flush()
                let channel = self.channel
                if let written = closeState?.frameWrite {
                    written.whenComplete { _ in channel.close(promise: nil) }
                } else {
                    channel.close(promise: nil)
                }
            case .closeTransport:
                channel.close(promise: nil)
            case .sendPing:
                sendBinaryNow(ByteBuffer(), opcode: .ping)
            case .report(let error):
                closeIO.lastError = error
                handlers.error?(error)
            }
        }
        let published = lifecycle.readyState
        if published != readyState { state.store(published.rawValue, ordering: .releasing) }
    }

    /// Ends the `messages` stream, with the connection's last error if it failed.
    func finishStream(_ stream: MessageStream) {
        if let lastError = closeState?.lastError { stream.source.finish(lastError) } else { stream.source.finish() }
    }

    /// Adds a close observer (on the event loop); one that comes after the close is called at once.
    package func observeClose(_ observer: @escaping (CloseEvent) -> Void) {
        if readyState == .closed, closeObservers == nil {
            // Closed without a closing state: the TCP connection just ended (1006).
            observer(closeState?.closedEvent ?? CloseEvent(code: .abnormalClosure, reason: "", wasClean: false))
            return
        }
        closeObservers = (closeObservers ?? []) + [observer]
    }

    func startClose(code: CloseCode, reason: String) {
        apply(lifecycle.close(code: code, reason: reason))
    }

    /// Fails the connection (RFC 6455 §7.1.7): close frame with the violation's code, then
    /// the TCP connection is dropped without waiting.
    func fail(_ violation: ProtocolViolation) {
        logger.debug("protocol violation", metadata: ["code": "\(violation.code.rawValue)", "reason": "\(violation.reason)"])
        apply(lifecycle.fail(violation))
    }

    private func writeCloseFrame(code: CloseCode?, reason: String) {
        guard let context else { return }
        let frame = FrameEncoder.closeFrame(code: code, reason: reason, mask: mask, allocator: context.channel.allocator)
        let promise = eventLoop.makePromise(of: Void.self)
        closeIO.frameWrite = promise.futureResult
        context.writeAndFlush(NIOAny(frame), promise: promise)
    }

    /// The heartbeat: called every `pingInterval` by the client, every `tick` by the server
    /// (the shortest interval of its routes: a connection with a longer one counts ticks).
    func heartbeat(tick: TimeAmount? = nil) {
        guard readyState == .open, let interval = configuration.pingInterval else { return }
        if let tick, interval > tick {
            heartbeatTicks &+= 1
            guard Int64(heartbeatTicks) * tick.nanoseconds >= interval.nanoseconds else { return }
            heartbeatTicks = 0
        }
        apply(lifecycle.heartbeat())
    }

    func errorCaught(_ error: Error) {
        logger.debug("transport error", metadata: ["error": "\(error)"])
        apply(lifecycle.transportFailed("\(error)"))
    }

    func channelInactive() {
        inboundCharge.releaseAll(in: settings.memoryBudget)
        outboundCharge.releaseAll(in: settings.memoryBudget)
        guard let event = lifecycle.transportClosed() else { return }
        state.store(ReadyState.closed.rawValue, ordering: .releasing)
        closeState?.closedEvent = event
        closeState?.timer?.cancel()
        closeState?.timer = nil
        deliverUnconsumed()  // a consumer that appeared in this very cycle still gets them
        handlers.close?(event)
        let observers = closeObservers ?? []
        closeObservers = nil
        for observer in observers { observer(event) }
        if let stream = streamBox.withLock({ $0 }) { finishStream(stream) }
        if let groups {
            self.groups = nil
            for group in groups { group.leave(self) }
        }
        handlers = Handlers()  // break reference cycles through captured connections
        registry?.connectionClosed(self, code: event.code)
        registry = nil
        context = nil
    }
}
