#if Vapor  // the trait that brings Vapor in (Package.swift)
import Duplex
import NIOCore
import NIOHTTP1
import Vapor

/// Vapor's upgrade point for a handshake Duplex has accepted: the route answers 101 with
/// this upgrader; once Vapor has written the response and removed its HTTP handlers,
/// Duplex's pipeline takes the channel (its own frame codec, compression and limits, not
/// Vapor's WebSocket).
struct DuplexUpgrader: Upgrader {
    let handshake: AcceptedHandshake
    let server: WebSocketServer

    func applyUpgrade(req: Request, res: Response) -> any HTTPServerProtocolUpgrader {
        ProtocolUpgrader(handshake: handshake, server: server)
    }

    /// NIO's side of the same step.
    struct ProtocolUpgrader: HTTPServerProtocolUpgrader {
        let handshake: AcceptedHandshake
        let server: WebSocketServer

        let supportedProtocol = "websocket"
        let requiredUpgradeHeaders: [String] = []

        func buildUpgradeResponse(channel: Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
            channel.eventLoop.makeSucceededFuture(handshake.responseHeaders)
        }

        func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
            context.eventLoop.makeCompletedFuture {
                try server.adoptWebSocket(handshake, on: context.channel)
            }
        }
    }
}
#endif
