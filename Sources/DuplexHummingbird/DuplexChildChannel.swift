#if Hummingbird  // the trait that brings Hummingbird in (Package.swift)
import Duplex
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1 child channel with Duplex's WebSocket upgrade in front: the first
/// request of a connection may be a handshake on a ``DuplexEndpoints`` path (Duplex's
/// pipeline then takes the channel); everything else is served by the app as usual.
public struct DuplexChildChannel: ServerChildChannel, HTTPChannelHandler {
    /// What the connection became after its first request head.
    public enum Upgraded: ServerChildChannelValue {
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case webSocket(WebSocketConnection)

        public var channel: any Channel {
            switch self {
            case .http(let http): http.channel
            case .webSocket(let connection): connection.channel
            }
        }
    }

    /// The upgrade's outcome, known once the first request head has been read.
    public struct Negotiation: ServerChildChannelValue {
        let result: EventLoopFuture<Upgraded>
        public let channel: any Channel
    }

    public typealias Value = Negotiation

    public let responder: HTTPChannelHandler.Responder
    let configuration: HTTP1Channel.Configuration
    let endpoints: DuplexEndpoints

    init(responder: @escaping HTTPChannelHandler.Responder, configuration: HTTP1Channel.Configuration, endpoints: DuplexEndpoints) {
        // The router's Duplex routes find the connection's channel here (long polls watch
        // it close; Engine.IO sees the peer's address).
        self.responder = { request, writer, channel in
            // The writer cannot be copied: the task-local's closure takes it out of a slot.
            var slot = Optional(writer)
            try await DuplexConnectionChannel.$current.withValue(channel) {
                try await responder(request, slot.take()!, channel)
            }
        }
        self.configuration = configuration
        self.endpoints = endpoints
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Negotiation> {
        channel.eventLoop.makeCompletedFuture {
            let http1 = configuration
            let upgrader = DuplexUpgrader(endpoints: endpoints)
            let upgrades = NIOTypedHTTPServerUpgradeConfiguration<Upgraded>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    // What Hummingbird's HTTP1Channel puts after its HTTP codec.
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try sync.addHandlers(http1.additionalChannelHandlers())
                        try sync.addHandler(HTTPConnectionStateHandler(idleTimeout: http1.idleTimeout.map { .init($0) }, logger: logger))
                        let http = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        // A refused handshake goes to the router after all (Duplex's route
                        // answers its status; another path, the app): its head first, then
                        // NIO replays the rest.
                        if let head = upgrader.takeRefusedRequest() {
                            let upgradeHandler = try sync.context(handlerType: NIOTypedHTTPServerUpgradeHandler<Upgraded>.self)
                            upgradeHandler.fireChannelRead(NIOAny(HTTPServerRequestPart.head(head)))
                        }
                        return .http(http)
                    }
                }
            )
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgrades)
            pipeline.enablePipelining = false  // NIOAsyncChannel reads requests one by one
            pipeline.enableErrorHandling = false  // Hummingbird answers parse errors
            pipeline.enableResponseHeaderValidation = false  // HTTP types validate
            pipeline.decoderConfiguration.maxHeaderFieldSize = http1.httpDecoder.maxHeaderFieldSize
            pipeline.decoderConfiguration.maxHeaderListSize = http1.httpDecoder.maxHeaderListSize
            pipeline.decoderConfiguration.maxHeaderFieldCount = http1.httpDecoder.maxHeaderFieldCount
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
            return Negotiation(result: result, channel: channel)
        }
    }

    public func handle(value: Negotiation, logger: Logger) async {
        do {
            switch try await value.result.get() {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .webSocket(let connection):
                // Duplex drives the connection on its event loop; this task only keeps the
                // server's count of open connections right until it closes.
                try? await connection.channel.closeFuture.get()
            }
        } catch {
            logger.debug("connection ended before its first request was handled", metadata: ["error": "\(error)"])
        }
    }
}

/// The channel of the request being answered, for the Duplex routes of the router.
enum DuplexConnectionChannel {
    @TaskLocal static var current: (any Channel)?
}
#endif
