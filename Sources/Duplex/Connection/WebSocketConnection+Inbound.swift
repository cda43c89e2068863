import NIOCore

/// Reading: frames into messages (inflated, validated), delivered to the handlers and the
/// `messages` stream, with the memory budget checked after every read.
extension WebSocketConnection {
    // MARK: - Inbound (called by WebSocketChannelHandler on the event loop)

    func channelRead(_ buffer: ByteBuffer) {
        guard !lifecycle.inputClosed else { return }
        lifecycle.peerActive()
        var input: ByteBuffer
        if var pending = leftover {
            leftover = nil
            var incoming = buffer
            pending.writeBuffer(&incoming)
            input = pending
        } else {
            input = buffer
        }
        do {
            while !lifecycle.inputClosed, let event = try receiver.next(&input) {
                handle(event)
            }
        } catch {
            fail(error)
            return
        }
        // A message still being assembled after this read counts against the budget.
        if !lifecycle.inputClosed, !inboundCharge.update(to: receiver.bufferedMessageBytes, in: settings.memoryBudget,
                                               holder: "an unfinished message on \(self)") {
            fail(ProtocolViolation(.tryAgainLater, Self.budgetReason))
            return
        }
        if !lifecycle.inputClosed && input.readableBytes > 0 {
            // Only a partial frame header can be left (payloads are consumed as they
            // come): copy those few bytes rather than pin the whole read buffer.
            var rest = ByteBufferAllocator().buffer(capacity: input.readableBytes)
            rest.writeBuffer(&input)
            leftover = rest
        }
    }

    func channelReadComplete() {
        inReadCycle = false
        if needsFlush {
            needsFlush = false
            context?.flush()
        }
    }

    func handle(_ event: FrameReceiver.Event) {
        switch event {
        case .message(let opcode, var payload, let compressed):
            if compressed {
                guard deflate != nil else {
                    fail(ProtocolViolation(.protocolError, "compressed message without permessage-deflate"))
                    return
                }
                do {
                    payload = try deflate!.inflate(&payload, maxSize: configuration.maxMessageSize, allocator: channel.allocator)
                } catch {
                    fail(error)
                    return
                }
                if opcode == .text {
                    let valid = payload.withUnsafeReadableBytes { UTF8Validator.isValid($0) }
                    guard valid else {
                        fail(ProtocolViolation(.invalidFramePayloadData, "invalid UTF-8 in text message"))
                        return
                    }
                }
            }
            if opcode == .text {
                deliver(.text(String(buffer: payload)))
            } else {
                deliver(.binary(payload))
            }
        case .text(let text):
            deliver(.text(text))
        case .ping(let payload):
            if readyState == .open {
                sendFrame { allocator, mask in FrameEncoder.frame(opcode: .pong, payload: payload, mask: mask, allocator: allocator) }
            }
            handlers.ping?(payload)
        case .pong(let payload):
            handlers.pong?(payload)
        case .close(let code, let reason):
            apply(lifecycle.receivedClose(code: code, reason: reason))
        }
    }

    func deliver(_ message: WebSocketMessage) {
        if let metrics = settings.metrics {
            metrics.messagesReceived.increment()
            metrics.bytesReceived.increment(by: Int64(message.payloadCount))
        }
        if keepIfUnconsumed(message) { return }
        dispatch(message)
    }

    /// Hands a message to the handlers and the `messages` stream.
    func dispatch(_ message: WebSocketMessage) {
        do {
            switch message {
            case .text(let text): try handlers.text?(text)
            case .binary(let data): try handlers.binary?(data)
            }
            try handlers.message?(message)
        } catch {
            logger.error("message handler threw", metadata: ["error": "\(error)"])
            apply(lifecycle.handlerFailed("\(error)"))
        }
        if let source = loopSource ?? takeRequestedSource() {
            if case .stopProducing = source.yield(message) {
                channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            }
        }
    }

    /// The `messages` stream's source once someone asked for the stream, fetched under the
    /// lock only once: from then on the event loop keeps its own copy.
    func takeRequestedSource() -> WebSocketMessageSequence.Producer.Source? {
        guard streamRequested.load(ordering: .acquiring) else { return nil }
        loopSource = streamBox.withLock { $0?.source }
        return loopSource
    }

    func pauseReading() {
        channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
    }

    func resumeReading() {
        guard readyState != .closed else { return }
        channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        channel.read()
    }
}
