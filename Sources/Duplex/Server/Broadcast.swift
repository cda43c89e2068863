import NIOCore
import NIOPosix

extension WebSocketServer {
    /// Sends a text message to every open connection (or those passing `filter`). The
    /// frame is encoded once per event loop (compressed once per loop and compression
    /// setting) and the same buffer is written to every recipient of that loop.
    public func broadcast(_ text: String, where filter: (@Sendable (WebSocketConnection) -> Bool)? = nil) {
        Self.broadcast(.text(text), to: connections, filter: filter)
    }

    /// Sends a binary message to every open connection (or those passing `filter`).
    public func broadcast(_ data: ByteBuffer, where filter: (@Sendable (WebSocketConnection) -> Bool)? = nil) {
        Self.broadcast(.binary(data), to: connections, filter: filter)
    }

    /// Sends a text message to the given connections (a room, say): encoded once, the same
    /// buffer written to each. `compress: false`: plain frames even where permessage-deflate
    /// is on (``WebSocketConnection/send(_:compress:)-(String,_)``).
    public static func broadcast(_ text: String, to recipients: some Sequence<WebSocketConnection>, compress: Bool = true) {
        broadcast(.text(text), to: recipients, filter: nil, compress: compress)
    }

    /// Sends a binary message to the given connections, encoded once.
    public static func broadcast(_ data: ByteBuffer, to recipients: some Sequence<WebSocketConnection>, compress: Bool = true) {
        broadcast(.binary(data), to: recipients, filter: nil, compress: compress)
    }

    /// Writes one message to many server-side connections. Recipients are grouped by event
    /// loop, and each loop frames the message itself, once for all its recipients (once per
    /// compression setting; recipients with a context of their own compress for themselves):
    /// no frame buffer is shared between threads, so the reference counting of a broadcast
    /// stays on one core. The caller's loop delivers at once, the others get one task each.
    /// The filter runs on each recipient's event loop. Frames are written without a flush:
    /// each loop flushes the connections it wrote to once, after the current tick
    /// (``PendingFlushes``), so a burst of broadcasts shares one system call per recipient.
    static func broadcast(_ payload: OutboundPayload, to recipients: some Sequence<WebSocketConnection>,
                          filter: (@Sendable (WebSocketConnection) -> Bool)?, compress: Bool = true) {
        forEachEventLoop(recipients.lazy.filter { $0.role == .server }, loop: \.eventLoop) { group in
            deliverOnLoop(payload, to: group, filter: filter, compress: compress)
        }
    }

    /// How one recipient gets the message.
    private enum Delivery {
        /// A frame built once for many recipients.
        case frame(ByteBuffer)
        /// The recipient compresses with its own context (context takeover): per recipient.
        case message
    }

    /// Frames `payload` once (per compression setting) and writes it to `recipients`, which
    /// all belong to the calling event loop.
    static func deliverOnLoop(_ payload: OutboundPayload, to recipients: some Sequence<WebSocketConnection>,
                              filter: (@Sendable (WebSocketConnection) -> Bool)?, compress: Bool = true) {
        let allocator = ByteBufferAllocator()
        let count = payload.count
        var plain: ByteBuffer?
        var compressed: [DeflateWorkspace.CompressorKey: ByteBuffer] = [:]
        var flushes: PendingFlushes?
        var framed = 0
        var metrics: WebSocketMetrics?

        func plainFrame() -> ByteBuffer {
            if let plain { return plain }
            let frame = WebSocketConnection.plainFrame(payload, mask: nil, allocator: allocator)
            plain = frame
            return frame
        }

        for connection in recipients where filter?(connection) ?? true {
            let delivery: Delivery
            switch compress ? connection.broadcastEncoding : .plain {
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
            switch delivery {
            case .frame(let frame):
                let batch = flushes ?? LoopData.current.pendingFlushes(on: connection.eventLoop)
                flushes = batch
                if connection.sendBroadcastFrame(frame, flushes: batch) {
                    framed += 1
                    metrics = metrics ?? connection.settings.metrics
                }
            case .message:
                connection.sendMessage(payload)
            }
        }
        // One update per loop and broadcast, not one per recipient.
        if framed > 0, let metrics {
            metrics.messagesSent.increment(by: Int64(framed))
            metrics.bytesSent.increment(by: Int64(framed * count))
        }
    }
}

/// The connections of one event loop that were written to without a flush (broadcast
/// recipients). The first one queued schedules a single task on the loop, which runs after
/// the reads of the current tick and flushes each queued connection once: however many
/// broadcasts reach a connection in one tick, it costs one `write` system call. No
/// allocation per message: the lists keep their capacity, and there is one task per tick.
final class PendingFlushes: @unchecked Sendable {  // confined to its event loop (in its ``LoopData``)
    let eventLoop: EventLoop
    private var queued: [WebSocketConnection] = []
    private var draining: [WebSocketConnection] = []
    private var scheduled = false

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Queues `connection` for the flush at the end of this tick (the caller checks that it
    /// is not queued already).
    func add(_ connection: WebSocketConnection) {
        queued.append(connection)
        if !scheduled {
            scheduled = true
            eventLoop.execute { self.drain() }
        }
    }

    private func drain() {
        scheduled = false
        swap(&queued, &draining)
        for connection in draining { connection.flushQueued() }
        draining.removeAll(keepingCapacity: true)
    }
}

/// Moves a value whose parts are all Sendable but that the compiler cannot prove so.
struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
