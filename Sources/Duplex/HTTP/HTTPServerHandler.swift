import NIOCore
import NIOHTTP1

/// The first handler of every server connection. It reads HTTP requests and either
/// upgrades the connection to a WebSocket (then leaves the pipeline with the HTTP codec),
/// or answers a plain request through the server's HTTP handler.
///
/// Requests on one connection are answered in order: parts that arrive while a response
/// is pending (a long poll) or while the client is not reading its responses wait in
/// `queued`. Reading stops while that queue is over a small mark or the socket's write
/// buffer is full, so a client that pipelines requests and never reads holds a bounded
/// amount of the server's memory; one that keeps pushing past a hard limit is dropped.
final class HTTPServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Queued request bytes above which reading pauses.
    static let queueReadMark = 64 * 1024

    private let server: WebSocketServer
    private let decoder: RemovableChannelHandler
    private let encoder: RemovableChannelHandler

    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var bodyTooLarge = false
    private var bodyCharge = BudgetCharge()
    private var responding = false
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    private var queuedBytes = 0
    /// A `read` held back by backpressure, issued when the queue drains.
    private var readPending = false
    private var draining = false
    private var idleTimer: Scheduled<Void>?

    init(server: WebSocketServer, decoder: RemovableChannelHandler, encoder: RemovableChannelHandler) {
        self.server = server
        self.decoder = decoder
        self.encoder = encoder
    }

    func handlerAdded(context: ChannelHandlerContext) {
        armIdleTimer(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        bodyCharge.releaseAll(in: server.memoryBudget)
    }

    func channelInactive(context: ChannelHandlerContext) {
        bodyCharge.releaseAll(in: server.memoryBudget)
        server.httpChannelClosed(context.channel)
        context.fireChannelInactive()
    }

    // MARK: - Backpressure

    /// Largest queue a connection may build (beyond it, it is dropped): one request body
    /// plus the requests one read can carry while reading is already paused.
    private var queueLimit: Int { max(server.configuration.maxRequestBodySize, 1024 * 1024) + Self.queueReadMark }

    private func mustPauseReading(_ context: ChannelHandlerContext) -> Bool {
        queuedBytes > Self.queueReadMark || !context.channel.isWritable
    }

    func read(context: ChannelHandlerContext) {
        if mustPauseReading(context) {
            readPending = true
        } else {
            context.read()
        }
    }

    private func resumeReadingIfPossible(context: ChannelHandlerContext) {
        guard readPending, !mustPauseReading(context) else { return }
        readPending = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            processQueued(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    /// Requests that waited (behind a long poll, or for the client to read) go on in order.
    private func processQueued(context: ChannelHandlerContext) {
        // A response written synchronously while draining lands here again: the loop
        // below goes on instead (no recursion per pipelined request).
        guard !draining else { return }
        draining = true
        defer { draining = false }
        while !responding, context.channel.isWritable, context.channel.isActive, let part = queued.popFirst() {
            queuedBytes -= Self.cost(of: part)
            process(part, context: context)
        }
        resumeReadingIfPossible(context: context)
    }

    /// What a waiting request part holds, roughly.
    private static func cost(of part: HTTPServerRequestPart) -> Int {
        switch part {
        case .head(let head): 64 + head.uri.utf8.count + head.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
        case .body(let chunk): 16 + chunk.readableBytes
        case .end: 16
        }
    }

    /// Slowloris protection: a connection must complete each request head and body within
    /// the handshake timeout (also the keep-alive idle limit between requests).
    private func armIdleTimer(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        let channel = context.channel
        let logger = server.configuration.logger
        idleTimer = context.eventLoop.scheduleTask(in: server.configuration.handshakeTimeout) {
            logger.debug("closing HTTP connection: no complete request in time", metadata: ["remote": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if responding || !queued.isEmpty || !context.channel.isWritable {
            queuedBytes += Self.cost(of: part)
            queued.append(part)
            if queuedBytes > queueLimit {
                server.configuration.logger.debug("closing HTTP connection: too many requests waiting for their responses",
                                                  metadata: ["queued": "\(queuedBytes)"])
                queued.removeAll()
                queuedBytes = 0
                context.close(promise: nil)
            }
            return
        }
        process(part, context: context)
    }

    private func process(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let requestHead):
            head = requestHead
            body.clear()
            bodyTooLarge = false
        case .body(var chunk):
            if body.readableBytes + chunk.readableBytes > server.configuration.maxRequestBodySize {
                bodyTooLarge = true
            } else if !bodyTooLarge {
                guard bodyCharge.update(to: body.readableBytes + chunk.readableBytes, in: server.memoryBudget,
                                        holder: "a request body from \(context.channel.remoteAddress.map { "\($0)" } ?? "?")") else {
                    head = nil
                    respond(HTTPResponse(status: .serviceUnavailable, body: "server busy: memory budget exceeded, try again later\n"),
                            to: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"), context: context, forceClose: true)
                    return
                }
                body.writeBuffer(&chunk)
            }
        case .end:
            guard let requestHead = head else { return }
            head = nil
            idleTimer?.cancel()
            idleTimer = nil
            // The body now belongs to the request (and its handler).
            bodyCharge.releaseAll(in: server.memoryBudget)
            if let refusal = server.requestPolicy.refusal(of: requestHead, loopbackOnly: server.isLoopbackOnly) {
                server.configuration.logger.debug("request refused", metadata: ["reason": "\(refusal)", "uri": "\(requestHead.uri)"])
                respond(HTTPResponse(status: .forbidden, body: refusal + "\n"), to: requestHead, context: context, forceClose: true)
            } else if bodyTooLarge {
                respond(.bodyTooLarge(limit: server.configuration.maxRequestBodySize),
                        to: requestHead, context: context, forceClose: true)
            } else if Handshake.isWebSocketAttempt(requestHead) {
                handshake(requestHead, context: context)
            } else {
                serve(requestHead, context: context)
            }
        }
    }

    // MARK: - WebSocket upgrade

    private func handshake(_ requestHead: HTTPRequestHead, context: ChannelHandlerContext) {
        let handshake: AcceptedHandshake
        switch server.decideHandshake(requestHead, remoteAddress: context.channel.remoteAddress) {
        case .success(let accepted): handshake = accepted
        case .failure(let error):
            reject(error, requestHead, context: context)
            return
        }
        guard server.reserveConnectionSlot() else {
            reject(HandshakeError(status: .serviceUnavailable, reason: "server is at its connection limit"), requestHead, context: context)
            return
        }

        // Written now, flushed only once the connection is registered and its handler has
        // run (joined its rooms): a client that sees the 101 is already in them.
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: handshake.responseHeaders))), promise: nil)
        let channel = context.channel

        // Swap the pipeline: the WebSocket handler goes in, the HTTP codec and this handler
        // go out. The decoder goes last: bytes it holds beyond the request are forwarded to
        // the WebSocket handler when it leaves, after the user has set the event handlers.
        let pipeline = context.pipeline.syncOperations
        do {
            let connection = try server.installWebSocket(handshake, on: channel)
            pipeline.removeHandler(encoder, promise: nil)
            server.connectionOpened(connection)
            pipeline.removeHandler(context: context, promise: nil)
            pipeline.removeHandler(decoder, promise: nil)
            channel.flush()
            if readPending {
                readPending = false
                channel.read()
            }
        } catch {
            server.configuration.logger.error("upgrade failed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    private func reject(_ error: HandshakeError, _ requestHead: HTTPRequestHead, context: ChannelHandlerContext) {
        server.metrics.handshakeRejected(status: Int(error.status.code))
        server.configuration.logger.debug("handshake refused", metadata: ["status": "\(error.status.code)", "reason": "\(error.reason)", "uri": "\(requestHead.uri)"])
        var headers = error.headers
        headers.replaceOrAdd(name: "Content-Type", value: "text/plain; charset=utf-8")
        respond(HTTPResponse(status: error.status, headers: headers, body: ByteBuffer(string: error.reason + "\n")),
                to: requestHead, context: context, forceClose: true)
    }

    // MARK: - Plain HTTP

    private func serve(_ requestHead: HTTPRequestHead, context: ChannelHandlerContext) {
        guard let handler = server.configuration.httpHandler else {
            respond(HTTPResponse(status: .upgradeRequired, headers: ["Upgrade": "websocket"], body: "this is a WebSocket endpoint: send a WebSocket handshake\n"),
                    to: requestHead, context: context, forceClose: false)
            return
        }
        responding = true
        let request = HTTPRequest(head: requestHead, body: body, remoteAddress: context.channel.remoteAddress,
                                  eventLoop: context.eventLoop, connectionClosed: context.channel.closeFuture)
        body = ByteBuffer()
        let logger = server.configuration.logger
        handler(request).hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let response):
                self.respond(response, to: requestHead, context: context, forceClose: false)
            case .failure(let error):
                logger.error("HTTP handler failed", metadata: ["error": "\(error)", "uri": "\(requestHead.uri)"])
                self.respond(HTTPResponse(status: .internalServerError, body: "internal server error\n"), to: requestHead, context: context, forceClose: false)
            }
        }
    }

    private func respond(_ response: HTTPResponse, to requestHead: HTTPRequestHead, context: ChannelHandlerContext, forceClose: Bool) {
        guard context.channel.isActive else { return }
        var response = response
        if let field = response.headers.firstInvalidField {
            // CR/LF in a header would let request data (a decoded query value, say) write
            // headers or a second response of its own: send nothing of it.
            server.configuration.logger.error("refusing to send a response with an invalid header field; answering 500 instead",
                                              metadata: ["field": "\(field)", "uri": "\(requestHead.uri)"])
            response = HTTPResponse(status: .internalServerError, body: "internal server error\n")
        }
        let keepAlive = requestHead.isKeepAlive && !forceClose && !server.isClosing
        var head = HTTPResponseHead(version: requestHead.version, status: response.status, headers: response.headers)
        head.headers.replaceOrAdd(name: "Content-Length", value: "\(response.body.readableBytes)")
        // No response body is to be sniffed into another type (an error text as HTML).
        if !head.headers.contains(name: "x-content-type-options") { head.headers.add(name: "X-Content-Type-Options", value: "nosniff") }
        if !keepAlive { head.headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if response.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        responding = false
        guard keepAlive else {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
            return
        }
        armIdleTimer(context: context)
        processQueued(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Malformed HTTP from the decoder: answer 400 once, then drop the connection.
        if error is HTTPParserError, context.channel.isActive {
            let body = ByteBuffer(string: "malformed HTTP request\n")
            var head = HTTPResponseHead(version: .http1_1, status: .badRequest)
            head.headers.add(name: "Content-Length", value: "\(body.readableBytes)")
            head.headers.add(name: "Connection", value: "close")
            head.headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            head.headers.add(name: "X-Content-Type-Options", value: "nosniff")
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.close(promise: nil)
    }
}
