import Duplex
import Foundation
import NIOCore
import NIOHTTP1

/// The chat page, package resources served at `/`, `/chat.js` and `/chat.css`.
enum ChatPage {
    static let html = resource("index", "html")
    static let script = resource("chat", "js")
    static let style = resource("chat", "css")

    private static func resource(_ name: String, _ type: String) -> ByteBuffer {
        guard let url = Bundle.module.url(forResource: name, withExtension: type), let data = try? Data(contentsOf: url) else {
            return ByteBuffer(string: type == "html" ? "<!doctype html><title>Duplex chat</title><p>The page resource is missing from this build." : "")
        }
        return ByteBuffer(bytes: data)
    }

    /// The page runs only its own script and style, talks only to its own server, and may
    /// not be framed by another site (clickjacking).
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    private static func asset(_ body: ByteBuffer, type: String) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: [
            "Content-Type": type,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": contentSecurityPolicy,
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
        ], body: body)
    }

    @Sendable
    static func handler(_ request: HTTPRequest) -> EventLoopFuture<HTTPResponse> {
        let response: HTTPResponse
        switch (request.method, request.path) {
        case (.GET, "/"), (.GET, "/index.html"), (.HEAD, "/"):
            response = asset(html, type: "text/html; charset=utf-8")
        case (.GET, "/chat.js"):
            response = asset(script, type: "text/javascript; charset=utf-8")
        case (.GET, "/chat.css"):
            response = asset(style, type: "text/css; charset=utf-8")
        case (.GET, "/healthz"):
            response = HTTPResponse(status: .ok, body: "ok\n")
        default:
            response = HTTPResponse(status: .notFound, body: "not found\n")
        }
        return request.eventLoop.makeSucceededFuture(response)
    }
}
