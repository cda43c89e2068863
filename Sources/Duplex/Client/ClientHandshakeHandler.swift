import Logging
import NIOCore
import NIOHTTP1

/// The client side of the opening handshake (RFC 6455 §4.1). It sends the upgrade request
/// when the channel becomes active, checks the response, and on success swaps the HTTP
/// codec for a `WebSocketChannelHandler`; the decoder leaves last, so bytes the server sent
/// right behind its 101 response reach the WebSocket.
final class ClientHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    struct Request {
        var url: WebSocketURL
        var protocols: [String]
        var headers: HTTPHeaders
        var configuration: WebSocketConfiguration
        var logger: Logger
        /// When the whole opening handshake must be done.
        var deadline: NIODeadline
        var timeout: TimeAmount
    }

    /// What the handshake produced: the open connection, created on the event loop before
    /// any frame is read (its handlers are installed by `onOpen`).
    typealias OpenCallback = (WebSocketConnection) -> Void

    private enum State {
        case idle
        case awaitingResponse
        /// A 101 that passed every check: the upgrade happens at the response's end.
        case upgrading(HTTPRequestHead, subprotocol: String?, extensions: String, deflate: PerMessageDeflateCodec?)
        /// A refusal: its body (a little of it) is kept for the error.
        case refused(HTTPResponseHead, body: ByteBuffer)
        /// The HTTP codec is leaving; what arrives meanwhile is WebSocket data, kept until
        /// the WebSocket handler is in place.
        case switching(WebSocketConnection, buffered: [NIOAny])
        case done
    }

    private let request: Request
    private let key: String
    private let encoder: RemovableChannelHandler
    private let decoder: RemovableChannelHandler
    private let promise: EventLoopPromise<WebSocketConnection>
    private let onOpen: OpenCallback
    private var state = State.idle
    private var requestHead: HTTPRequestHead?
    private var timer: Scheduled<Void>?
    static let maxErrorBody = 1024

    init(request: Request, encoder: RemovableChannelHandler, decoder: RemovableChannelHandler,
         promise: EventLoopPromise<WebSocketConnection>, onOpen: @escaping OpenCallback) {
        self.request = request
        self.key = Handshake.makeClientKey()
        self.encoder = encoder
        self.decoder = decoder
        self.promise = promise
        self.onOpen = onOpen
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: request.deadline) {
            let (handler, context) = loopBound.value
            handler.timedOut(context: context)
        }
        if context.channel.isActive { sendRequest(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    private func timedOut(context: ChannelHandlerContext) {
        if case .done = state { return }
        fail(.timeout(seconds: Double(request.timeout.nanoseconds) / 1e9), context: context)
    }

    func channelActive(context: ChannelHandlerContext) {
        sendRequest(context: context)
        context.fireChannelActive()
    }

    private func sendRequest(context: ChannelHandlerContext) {
        guard case .idle = state else { return }
        state = .awaitingResponse
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: request.url.hostHeader)
        headers.add(name: "Upgrade", value: "websocket")
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Sec-WebSocket-Key", value: key)
        headers.add(name: "Sec-WebSocket-Version", value: "13")
        if !request.protocols.isEmpty {
            headers.add(name: "Sec-WebSocket-Protocol", value: request.protocols.joined(separator: ", "))
        }
        if let options = request.configuration.compression {
            headers.add(name: "Sec-WebSocket-Extensions", value: PerMessageDeflateNegotiation.offer(options: options))
        }
        // The user's headers (Origin, Authorization, Cookie, User-Agent...) may not replace
        // the ones the protocol depends on.
        let reserved: Set<String> = ["host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
                                     "sec-websocket-extensions", "sec-websocket-protocol", "content-length", "transfer-encoding"]
        for (name, value) in request.headers where !reserved.contains(name.lowercased()) {
            headers.add(name: name, value: value)
        }
        if !headers.contains(name: "user-agent") { headers.add(name: "User-Agent", value: "duplex") }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: request.url.resource, headers: headers)
        requestHead = head
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .switching(let connection, var buffered) = state {
            // Bytes the server sent behind its 101 (the decoder forwards them as it leaves).
            buffered.append(data)
            state = .switching(connection, buffered: buffered)
            return
        }
        if case .done = state { return }
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .awaitingResponse):
            if head.status == .switchingProtocols {
                do {
                    state = try validate(head)
                } catch {
                    fail(error, context: context)
                }
            } else {
                state = .refused(head, body: context.channel.allocator.buffer(capacity: 0))
            }
        case (.body(var chunk), .refused(let head, var body)):
            let room = Self.maxErrorBody - body.readableBytes
            if room > 0, let slice = chunk.readSlice(length: min(room, chunk.readableBytes)) {
                var slice = slice
                body.writeBuffer(&slice)
            }
            state = .refused(head, body: body)
        case (.end, .refused(let head, let body)):
            fail(ClientHandshake.refusal(head, body: body), context: context)
        case (.end, .upgrading(let requestHead, let subprotocol, let extensions, let deflate)):
            upgrade(context: context, requestHead: requestHead, subprotocol: subprotocol, extensions: extensions, deflate: deflate)
        default:
            break
        }
    }

    private func validate(_ head: HTTPResponseHead) throws(WebSocketClientError) -> State {
        let accepted = try ClientHandshake.validate(head, key: key, protocols: request.protocols, compression: request.configuration.compression)
        return .upgrading(requestHead!, subprotocol: accepted.subprotocol, extensions: accepted.extensions, deflate: accepted.deflate)
    }

    /// Swaps the pipeline in two steps. The response decoder also watches outbound writes
    /// (to pair responses with requests), so no WebSocket frame may be written while it is
    /// in the pipeline: first the codec leaves (the bytes it still holds come here and are
    /// kept), then the WebSocket handler goes in and gets them.
    private func upgrade(context: ChannelHandlerContext, requestHead: HTTPRequestHead, subprotocol: String?,
                         extensions: String, deflate: PerMessageDeflateCodec?) {
        timer?.cancel()
        let connection = WebSocketConnection(
            role: .client, channel: context.channel, request: requestHead, subprotocol: subprotocol,
            extensions: extensions, settings: .init(configuration: request.configuration, logger: request.logger), deflate: deflate
        )
        state = .switching(connection, buffered: [])
        let pipeline = context.pipeline.syncOperations
        let removed = context.eventLoop.makePromise(of: Void.self)
        pipeline.removeHandler(encoder, promise: nil)
        pipeline.removeHandler(decoder, promise: removed)
        removed.futureResult.assumeIsolated().whenComplete { result in
            switch result {
            case .success: self.finishUpgrade(context: context)
            case .failure(let error): self.fail(.invalidResponse("cannot remove the HTTP codec: \(error)"), context: context)
            }
        }
    }

    private func finishUpgrade(context: ChannelHandlerContext) {
        guard case .switching(let connection, let buffered) = state else { return }
        state = .done
        do {
            try context.pipeline.syncOperations.addHandler(WebSocketChannelHandler(connection: connection), position: .after(self))
        } catch {
            fail(.invalidResponse("cannot set up the WebSocket pipeline: \(error)"), context: context)
            return
        }
        let limit = request.configuration.maxBufferedAmount
        context.channel.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: limit / 2, high: max(1, limit)))
            .whenFailure { _ in }
        onOpen(connection)
        promise.succeed(connection)
        for data in buffered { context.fireChannelRead(data) }
        if !buffered.isEmpty { context.fireChannelReadComplete() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func fail(_ error: WebSocketClientError, context: ChannelHandlerContext) {
        state = .done
        timer?.cancel()
        promise.fail(error)
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        switch state {
        case .done:
            context.fireErrorCaught(error)
        default:
            fail(WebSocketClientError.from(error, url: request.url, timeout: request.timeout), context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .done = state {} else {
            state = .done
            timer?.cancel()
            promise.fail(WebSocketClientError.connectionClosed)
        }
        context.fireChannelInactive()
    }
}
