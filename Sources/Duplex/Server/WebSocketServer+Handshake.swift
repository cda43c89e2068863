import NIOCore
import NIOHTTP1

/// A valid handshake the server has accepted: what its 101 response carries and what its
/// connection is made of. Built and used on the connection's event loop (`@unchecked`:
/// the compression codec it holds is handed over once, never shared).
package struct AcceptedHandshake: @unchecked Sendable {
    package let request: HTTPRequestHead
    let settings: WebSocketConnection.Settings
    let negotiated: ServerHandshake.Accepted

    /// The 101 response's headers (`Upgrade`, `Connection`, the accept key, extensions...).
    package var responseHeaders: HTTPHeaders { negotiated.responseHeaders }
}

extension WebSocketServer {
    /// Decides about an opening handshake: RFC 6455 validation, the app's `shouldUpgrade`
    /// (with its route), then permessage-deflate and the subprotocol. The one decision of
    /// both Duplex's own HTTP handler and the framework integrations.
    package func decideHandshake(_ request: HTTPRequestHead, remoteAddress: SocketAddress?) -> Result<AcceptedHandshake, HandshakeError> {
        do throws(HandshakeError) {
            let key = try Handshake.validate(request)
            switch configuration.shouldUpgrade?(request, remoteAddress) ?? .accept() {
            case .accept(let headers, let route):
                let settings = route.map { self.settings(for: $0) } ?? connectionSettings
                if let field = headers.firstInvalidField {
                    configuration.logger.error("shouldUpgrade returned an invalid header; refusing the handshake", metadata: ["field": "\(field)"])
                }
                let negotiated = try ServerHandshake.negotiate(request, key: key, extraHeaders: headers, configuration: settings.configuration,
                                                               selectSubprotocol: configuration.selectSubprotocol)
                return .success(AcceptedHandshake(request: request, settings: settings, negotiated: negotiated))
            case .reject(let error):
                throw error
            }
        } catch {
            return .failure(error)
        }
    }

    /// Puts the WebSocket of an accepted handshake on `channel`: its connection, its handler
    /// at the pipeline's end, the channel's write marks and read batching. The caller has
    /// reserved a connection slot, and registers the connection (`connectionOpened`) once
    /// the HTTP handlers are out of its way.
    func installWebSocket(_ handshake: AcceptedHandshake, on channel: Channel) throws -> WebSocketConnection {
        let settings = handshake.settings
        let connection = WebSocketConnection(
            role: .server, channel: channel, request: handshake.request, subprotocol: handshake.negotiated.subprotocol,
            extensions: handshake.negotiated.extensions, settings: settings, deflate: handshake.negotiated.deflate
        )
        try channel.pipeline.syncOperations.addHandler(WebSocketChannelHandler(connection: connection))
        // Past the high-water mark each send checks the backlog against the connection's
        // limit and the server's memory budget; below it, sends cost nothing extra.
        let limit = max(2, settings.configuration.maxBufferedAmount)
        let high = min(limit, WebSocketConnection.outboundHighWaterMark)
        channel.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: high / 2, high: high)).whenFailure { _ in }
        channel.setOption(ChannelOptions.maxMessagesPerRead, value: WebSocketServer.webSocketMessagesPerRead).whenFailure { _ in }
        return connection
    }
}
