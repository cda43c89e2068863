import NIOCore

extension WebSocketServer {
    /// Sends a text message to every open connection (or those passing `filter`). The
    /// frame is encoded once (compressed once per compression setting) and the same buffer
    /// is written to every recipient.
    public func broadcast(_ text: String, where filter: (@Sendable (WebSocketConnection) -> Bool)? = nil) {
        Self.broadcast(.text(text), to: connections, filter: filter)
    }

    /// Sends a binary message to every open connection (or those passing `filter`).
    public func broadcast(_ data: ByteBuffer, where filter: (@Sendable (WebSocketConnection) -> Bool)? = nil) {
        Self.broadcast(.binary(data), to: connections, filter: filter)
    }

    /// Sends a text message to the given connections (a room, say): encoded once, the same
    /// buffer written to each.
    public static func broadcast(_ text: String, to recipients: some Sequence<WebSocketConnection>) {
        broadcast(.text(text), to: recipients, filter: nil)
    }

    /// Sends a binary message to the given connections, encoded once.
    public static func broadcast(_ data: ByteBuffer, to recipients: some Sequence<WebSocketConnection>) {
        broadcast(.binary(data), to: recipients, filter: nil)
    }

    /// How one recipient gets the message.
    private enum Delivery {
        /// A frame built once for many recipients.
        case frame(ByteBuffer)
        /// The recipient compresses with its own context (context takeover): per recipient.
        case message
    }

    /// Writes one message to many server-side connections. The plain frame and each
    /// distinct shared-compression frame are built once, here, on the caller's thread
    /// (recipients without context takeover and with the same window get the very same
    /// compressed bytes); then the frames are written directly to recipients on the
    /// caller's event loop, with one task per other event loop for the rest. The filter runs
    /// on each recipient's event loop.
    static func broadcast(_ payload: OutboundPayload, to recipients: some Sequence<WebSocketConnection>,
                          filter: (@Sendable (WebSocketConnection) -> Bool)?) {
        let allocator = ByteBufferAllocator()
        let count = payload.count
        var plain: ByteBuffer?
        var compressed: [DeflateWorkspace.CompressorKey: ByteBuffer] = [:]
        var byLoop: [ObjectIdentifier: (EventLoop, [(WebSocketConnection, Delivery)])] = [:]

        func plainFrame() -> ByteBuffer {
            if let plain { return plain }
            let frame = WebSocketConnection.plainFrame(payload, mask: nil, allocator: allocator)
            plain = frame
            return frame
        }

        for connection in recipients where connection.role == .server {
            let delivery: Delivery
            switch connection.broadcastEncoding {
            case .shared(let key, let minimumSize) where count >= minimumSize:
                if let frame = compressed[key] {
                    delivery = .frame(frame)
                } else {
                    let frame = (try? PerMessageDeflateCodec.compressedFrame(payload, key: key, mask: nil, allocator: allocator)) ?? plainFrame()
                    compressed[key] = frame
                    delivery = .frame(frame)
                }
            case .dedicated(let minimumSize) where count >= minimumSize:
                delivery = .message
            default:
                delivery = .frame(plainFrame())
            }
            if connection.eventLoop.inEventLoop {
                if filter?(connection) ?? true { deliver(delivery, payload, to: connection) }
            } else {
                byLoop[ObjectIdentifier(connection.eventLoop), default: (connection.eventLoop, [])].1.append((connection, delivery))
            }
        }
        for (_, (loop, group)) in byLoop {
            let group = UnsafeTransfer(group)
            loop.execute {
                for (connection, delivery) in group.value where filter?(connection) ?? true {
                    deliver(delivery, payload, to: connection)
                }
            }
        }
    }

    private static func deliver(_ delivery: Delivery, _ payload: OutboundPayload, to connection: WebSocketConnection) {
        switch delivery {
        case .frame(let frame): connection.sendEncodedFrame(frame)
        case .message: connection.sendMessage(payload)
        }
    }
}

/// Moves a value whose parts are all Sendable but that the compiler cannot prove so.
struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
