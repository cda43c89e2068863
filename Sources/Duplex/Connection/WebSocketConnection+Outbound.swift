import NIOCore

/// Sending: framing, compression, backpressure (the outbound limit and the memory budget),
/// and flushing once per read cycle or event-loop tick.
extension WebSocketConnection {
    /// The channel crossed a water mark (called on the event loop).
    func writabilityChanged() {
        let buffered = (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        bufferedSnapshot.store(buffered, ordering: .relaxed)
        if channel.isWritable { outboundCharge.releaseAll(in: settings.memoryBudget) }
    }

    /// Writes a broadcast frame without flushing: the flush comes at the end of the read
    /// cycle (the sender) or of the event-loop tick (``PendingFlushes``, one per loop).
    /// Must be called on the event loop.
    @discardableResult
    func sendBroadcastFrame(_ frame: ByteBuffer, flushes: PendingFlushes) -> Bool {
        guard readyState == .open, let context, admitSend() else { return false }
        context.write(NIOAny(frame), promise: nil)
        if inReadCycle {
            needsFlush = true
        } else if !inPendingFlushes {
            inPendingFlushes = true
            flushes.add(self)
        }
        return true
    }

    /// Records that `group` holds this connection; a closed connection leaves at once.
    func noteMembership(in group: BroadcastGroup) {
        onLoop { connection in
            if connection.readyState == .closed {
                group.leave(connection)
            } else {
                connection.groups = (connection.groups ?? []) + [group]
            }
        }
    }

    func forgetMembership(in group: BroadcastGroup) {
        onLoop { connection in
            connection.groups?.removeAll { $0 === group }
            if connection.groups?.isEmpty == true { connection.groups = nil }
        }
    }

    /// Called by ``PendingFlushes`` at the end of the tick.
    func flushQueued() {
        inPendingFlushes = false
        context?.flush()
    }

    func onLoop(_ body: @escaping @Sendable (WebSocketConnection) -> Void) {
        if eventLoop.inEventLoop {
            body(self)
        } else {
            eventLoop.execute { body(self) }
        }
    }

    var mask: MaskingKey? { role == .client ? MaskingKey.random() : nil }

    /// Sends a data message: compressed when permessage-deflate is on, `compress` allows it
    /// and it is large enough, otherwise as is. Must be called on the event loop.
    func sendMessage(_ payload: OutboundPayload, compress: Bool = true) {
        guard readyState == .open, context != nil else { return }
        if compress, deflate?.shouldCompress(count: payload.count) == true {
            var compressed: ByteBuffer?
            sendFrame(counting: payload.count) { allocator, mask in
                do {
                    compressed = try deflate!.compressedFrame(payload, mask: mask, allocator: allocator)
                } catch {
                    logger.warning("compression failed, sending uncompressed", metadata: ["error": "\(error)"])
                }
                return compressed ?? Self.plainFrame(payload, mask: mask, allocator: allocator)
            }
            return
        }
        switch payload {
        case .text(let text):
            sendFrame(counting: payload.count) { allocator, mask in FrameEncoder.textFrame(text, mask: mask, allocator: allocator) }
        case .binary(let data):
            sendBinaryNow(data, opcode: .binary)
        }
    }

    static func plainFrame(_ payload: OutboundPayload, mask: MaskingKey?, allocator: ByteBufferAllocator) -> ByteBuffer {
        switch payload {
        case .text(let text): FrameEncoder.textFrame(text, mask: mask, allocator: allocator)
        case .binary(let data): FrameEncoder.frame(opcode: .binary, payload: data, mask: mask, allocator: allocator)
        }
    }

    func sendBinaryNow(_ data: ByteBuffer, opcode: Opcode) {
        guard readyState == .open, let context else { return }
        let length = data.readableBytes
        let counted = opcode.isControl ? nil : length
        if length <= FrameEncoder.copyThreshold || role == .client {
            sendFrame(counting: counted) { allocator, mask in FrameEncoder.frame(opcode: opcode, payload: data, mask: mask, allocator: allocator) }
        } else {
            // Large server payloads go out as header + the caller's buffer: no copy.
            guard admitSend() else { return }
            if let counted { countSent(bytes: counted) }
            var header = context.channel.allocator.buffer(capacity: 10)
            FrameEncoder.writeHeader(into: &header, opcode: opcode, length: length, mask: nil)
            context.write(NIOAny(header), promise: nil)
            write(data)
        }
    }

    /// Frames and writes, when the backpressure policy admits it; `counting`: the payload
    /// size of a data message, for the metrics.
    func sendFrame(counting payloadCount: Int? = nil, _ encode: (ByteBufferAllocator, MaskingKey?) -> ByteBuffer) {
        guard readyState == .open, let context, admitSend() else { return }
        if let payloadCount { countSent(bytes: payloadCount) }
        write(encode(context.channel.allocator, mask))
    }

    func countSent(messages: Int = 1, bytes: Int) {
        guard let metrics = settings.metrics else { return }
        metrics.messagesSent.increment(by: Int64(messages))
        metrics.bytesSent.increment(by: Int64(bytes))
    }

    /// Applies the backpressure policy; false when the message must not be sent.
    func admitSend() -> Bool {
        if channel.isWritable { return true }
        let buffered = bufferedAmount
        // Past the high-water mark the backlog counts against the server's budget.
        guard outboundCharge.update(to: buffered, in: settings.memoryBudget, holder: "outbound data of \(self)") else {
            apply(lifecycle.drop(code: .tryAgainLater, reason: Self.budgetReason, error: .backpressureLimitExceeded(bufferedBytes: buffered)))
            return false
        }
        guard buffered > configuration.maxBufferedAmount else { return true }
        switch configuration.backpressurePolicy {
        case .dropMessages:
            dropped.wrappingAdd(1, ordering: .relaxed)
            settings.metrics?.messagesDropped.increment()
            return false
        case .close:
            logger.warning("dropping slow reader", metadata: ["buffered": "\(buffered)"])
            apply(lifecycle.drop(code: .policyViolation, reason: "outbound buffer limit exceeded",
                                 error: .backpressureLimitExceeded(bufferedBytes: buffered)))
            return false
        }
    }

    /// Writes now and flushes at the end of the read cycle (batching replies to a read)
    /// or at once when not inside one.
    func write(_ buffer: ByteBuffer) {
        guard let context else { return }
        if inReadCycle {
            context.write(NIOAny(buffer), promise: nil)
            needsFlush = true
        } else {
            context.writeAndFlush(NIOAny(buffer), promise: nil)
        }
    }
}
