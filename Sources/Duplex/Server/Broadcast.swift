import NIOCore
import NIOPosix

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
    /// on each recipient's event loop. Frames are written without a flush: each event loop
    /// flushes the connections it wrote to once, after the current tick (``PendingFlushes``),
    /// so a burst of broadcasts shares one system call per recipient.
    static func broadcast(_ payload: OutboundPayload, to recipients: some Sequence<WebSocketConnection>,
                          filter: (@Sendable (WebSocketConnection) -> Bool)?) {
        let allocator = ByteBufferAllocator()
        let count = payload.count
        var plain: ByteBuffer?
        var compressed: [DeflateWorkspace.CompressorKey: ByteBuffer] = [:]
        var byLoop: [ObjectIdentifier: (EventLoop, [(WebSocketConnection, Delivery)])] = [:]
        var flushes: PendingFlushes?

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
                if filter?(connection) ?? true { deliver(delivery, payload, to: connection, flushes: &flushes) }
            } else {
                byLoop[ObjectIdentifier(connection.eventLoop), default: (connection.eventLoop, [])].1.append((connection, delivery))
            }
        }
        for (_, (loop, group)) in byLoop {
            let group = UnsafeTransfer(group)
            loop.execute {
                var flushes: PendingFlushes?
                for (connection, delivery) in group.value where filter?(connection) ?? true {
                    deliver(delivery, payload, to: connection, flushes: &flushes)
                }
            }
        }
    }

    private static func deliver(_ delivery: Delivery, _ payload: OutboundPayload, to connection: WebSocketConnection,
                                flushes: inout PendingFlushes?) {
        switch delivery {
        case .frame(let frame):
            let batch: PendingFlushes
            if let current = flushes, current.eventLoop === connection.eventLoop {
                batch = current
            } else {
                batch = PendingFlushes.current(on: connection.eventLoop)
                flushes = batch
            }
            connection.sendBroadcastFrame(frame, flushes: batch)
        case .message: connection.sendMessage(payload)
        }
    }
}

/// The connections of one event loop that were written to without a flush (broadcast
/// recipients). The first one queued schedules a single task on the loop, which runs after
/// the reads of the current tick and flushes each queued connection once: however many
/// broadcasts reach a connection in one tick, it costs one `write` system call. No
/// allocation per message: the lists keep their capacity, and there is one task per tick.
final class PendingFlushes: @unchecked Sendable {  // confined to its event loop
    let eventLoop: EventLoop
    private var queued: [WebSocketConnection] = []
    private var draining: [WebSocketConnection] = []
    private var scheduled = false

    private nonisolated(unsafe) static let perThread = ThreadSpecificVariable<PendingFlushes>()

    private init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    /// The list of the calling thread, which must be `eventLoop`'s.
    static func current(on eventLoop: EventLoop) -> PendingFlushes {
        if let existing = perThread.currentValue, existing.eventLoop === eventLoop { return existing }
        let created = PendingFlushes(eventLoop: eventLoop)
        perThread.currentValue = created
        return created
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
