/// A valid opening handshake (RFC 6455 §4.1), optionally offering extensions.
public enum UpgradeRequest {
    public static func bytes(extensions: String? = nil) -> [UInt8] {
        var request = "GET /chat?room=fuzz HTTP/1.1\r\n"
            + "Host: 127.0.0.1\r\n"
            + "Upgrade: websocket\r\n"
            + "Connection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            + "Sec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Protocol: chat\r\n"
        if let extensions { request += "Sec-WebSocket-Extensions: \(extensions)\r\n" }
        request += "\r\n"
        return Array(request.utf8)
    }
}
