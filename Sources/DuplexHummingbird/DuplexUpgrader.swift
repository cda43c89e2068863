#if Hummingbird  // the trait that brings Hummingbird in (Package.swift)
import Duplex
import NIOCore
import NIOHTTP1

/// NIO's upgrade point for WebSocket handshakes on a Duplex endpoint. `buildUpgradeResponse`
/// is Duplex's decision (a refusal fails it: the request then goes to the router, where
/// the endpoint's route answers it with Duplex's status); `upgrade` runs once NIO has sent
/// the 101 and removed the HTTP handlers, and hands the channel to Duplex.
///
/// NIO's handler does not pass on the head of a request it tried to upgrade: the head of
/// a refused one waits in ``takeRefusedRequest()`` for the child channel to replay it.
/// The decision completes at once (no hop), so the request's end, read after its head,
/// reaches the HTTP side through NIO's buffer.
///
/// One per connection, used on its event loop: the accepted handshake waits here between
/// the two steps.
final class DuplexUpgrader: NIOTypedHTTPServerProtocolUpgrader, @unchecked Sendable {
    typealias UpgradeResult = DuplexChildChannel.Upgraded

    let supportedProtocol = "websocket"
    /// Duplex validates the handshake headers itself (and answers what is missing).
    let requiredUpgradeHeaders: [String] = []

    private let endpoints: DuplexEndpoints
    private var pending: (handshake: AcceptedHandshake, server: WebSocketServer)?
    private var refused: HTTPRequestHead?

    init(endpoints: DuplexEndpoints) {
        self.endpoints = endpoints
    }

    func buildUpgradeResponse(channel: Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        let (path, _) = URIQuery.split(upgradeRequest.uri)
        guard let endpoint = endpoints.endpoint(for: path) else {
            refused = upgradeRequest
            return channel.eventLoop.makeFailedFuture(NotDuplex())
        }
        switch endpoint.server.hostedHandshake(upgradeRequest, remoteAddress: channel.remoteAddress) {
        case .success(let handshake):
            pending = (handshake, endpoint.server)
            // NIO's initial headers name the upgrade already; Duplex's carry the rest.
            var headers = initialResponseHeaders
            for (name, value) in handshake.responseHeaders where !["upgrade", "connection"].contains(name.lowercased()) {
                headers.add(name: name, value: value)
            }
            return channel.eventLoop.makeSucceededFuture(headers)
        case .failure(let error):
            refused = upgradeRequest
            return channel.eventLoop.makeFailedFuture(error)
        }
    }

    func upgrade(channel: Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<UpgradeResult> {
        channel.eventLoop.makeCompletedFuture {
            guard let (handshake, server) = pending else { throw NotDuplex() }
            pending = nil
            return .webSocket(try server.adoptWebSocket(handshake, on: channel))
        }
    }

    /// The head of a request whose upgrade was refused (once).
    func takeRefusedRequest() -> HTTPRequestHead? {
        defer { refused = nil }
        return refused
    }

    /// The request is for none of the endpoints (the app's own routes answer it).
    struct NotDuplex: Error {}
}
#endif
