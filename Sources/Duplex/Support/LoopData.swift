import NIOCore
import NIOPosix

/// What one event-loop thread keeps for all of its connections, as uWebSockets' `LoopData`:
/// the zlib workspace shared by connections without context takeover, the pool of client
/// masking keys, and the connections waiting for the end-of-tick flush. One thread-specific
/// lookup finds them all; a thread only ever touches its own, so nothing here is locked.
final class LoopData: @unchecked Sendable {
    private static let perThread = ThreadSpecificVariable<LoopData>()

    /// The calling thread's data, made on first use.
    static var current: LoopData {
        if let data = perThread.currentValue { return data }
        let data = LoopData()
        perThread.currentValue = data
        return data
    }

    private init() {}

    /// zlib streams and scratch buffers (made when compression is first used on the thread).
    private(set) lazy var deflate = DeflateWorkspace()
    /// System randomness in blocks, for client frame masks.
    private(set) lazy var maskingKeys = MaskingKeyPool()
    private var flushes: PendingFlushes?

    /// The thread's pending flushes; `eventLoop` must be the calling thread's loop.
    func pendingFlushes(on eventLoop: EventLoop) -> PendingFlushes {
        if let flushes, flushes.eventLoop === eventLoop { return flushes }
        let made = PendingFlushes(eventLoop: eventLoop)
        flushes = made
        return made
    }
}

/// Groups items by the event loop they live on and runs `body` once per loop, on that loop:
/// the caller's own loop at once (after the others are scheduled), every other loop in one
/// task (with `inline: false`, the caller's loop too: for a caller under a lock). The one
/// partition-by-loop of the package (broadcasts, heartbeats, adapters).
package func forEachEventLoop<Item>(
    _ items: some Sequence<Item>, loop: (Item) -> EventLoop, inline: Bool = true,
    _ body: @escaping @Sendable ([Item]) -> Void
) where Item: Sendable {
    var here: [Item] = []
    var byLoop: [ObjectIdentifier: (EventLoop, [Item])] = [:]
    for item in items {
        let itemLoop = loop(item)
        if inline && itemLoop.inEventLoop {
            here.append(item)
        } else {
            byLoop[ObjectIdentifier(itemLoop), default: (itemLoop, [])].1.append(item)
        }
    }
    for (_, (itemLoop, group)) in byLoop {
        itemLoop.execute { body(group) }
    }
    if !here.isEmpty { body(here) }
}
