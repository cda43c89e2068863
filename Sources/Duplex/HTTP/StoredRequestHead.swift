import NIOHTTP1

/// The opening handshake's request head as a connection keeps it for its whole life.
///
/// NIO's `HTTPHeaders` is an array reserved for many fields plus one string allocation per
/// long name or value (~800 bytes for a typical handshake). A WebSocket holds its request
/// for hours and rarely reads it, so the fields are packed into one string here and the
/// `HTTPRequestHead` is rebuilt on access.
struct StoredRequestHead: Sendable {
    let method: HTTPMethod
    let version: HTTPVersion
    let uri: String
    private let fields: Fields

    private enum Fields: Sendable {
        /// `name NUL value NUL` for every field, in order.
        case packed(String)
        /// A name or value contains NUL (only possible for requests built in code).
        case unpacked(HTTPHeaders)
    }

    private static let separator: UInt8 = 0

    init(_ head: HTTPRequestHead) {
        method = head.method
        version = head.version
        uri = head.uri
        var size = 0
        var packable = true
        for (name, value) in head.headers {
            size += name.utf8.count + value.utf8.count + 2
            if name.utf8.contains(Self.separator) || value.utf8.contains(Self.separator) { packable = false }
        }
        guard packable else {
            fields = .unpacked(head.headers)
            return
        }
        var packed = ""
        packed.reserveCapacity(size)
        for (name, value) in head.headers {
            packed += name
            packed += "\0"
            packed += value
            packed += "\0"
        }
        fields = .packed(packed)
    }

    var headers: HTTPHeaders {
        switch fields {
        case .unpacked(let headers):
            return headers
        case .packed(let packed):
            var headers = HTTPHeaders()
            var name: Substring?
            for part in packed.utf8.split(separator: Self.separator, omittingEmptySubsequences: false).dropLast() {
                let text = Substring(part)
                if let fieldName = name {
                    headers.add(name: String(fieldName), value: String(text))
                    name = nil
                } else {
                    name = text
                }
            }
            return headers
        }
    }

    var head: HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: uri, headers: headers)
    }
}
