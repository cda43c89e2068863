#if Hummingbird  // the trait that brings Hummingbird in (Package.swift)
import HummingbirdCore

extension HTTPServerBuilder {
    /// HTTP/1 with the WebSocket upgrades of Duplex's endpoints:
    /// `Application(router: router, server: .http1(duplex: endpoints))`.
    public static func http1(duplex endpoints: DuplexEndpoints, configuration: HTTP1Channel.Configuration = .init()) -> HTTPServerBuilder {
        .init { responder in
            DuplexChildChannel(responder: responder, configuration: configuration, endpoints: endpoints)
        }
    }
}
#endif
