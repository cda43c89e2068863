import NIOCore

/// Connects a `WebSocketConnection` to its channel: it only forwards NIO's events.
final class WebSocketChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let connection: WebSocketConnection

    init(connection: WebSocketConnection) {
        self.connection = connection
    }

    func handlerAdded(context: ChannelHandlerContext) {
        connection.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection.inReadCycle = true
        connection.channelRead(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection.channelReadComplete()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.channelInactive()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // A host framework shutting down gracefully (NIO's ServerQuiescingHelper, as in
        // Hummingbird and Vapor) asks its connections to finish: a WebSocket says goodbye.
        if event is ChannelShouldQuiesceEvent {
            connection.close(code: .goingAway, reason: "server shutting down")
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        connection.errorCaught(error)
    }
}
