import Logging
import NIOCore
import Synchronization

/// A server-wide bound on the bytes its connections hold on behalf of peers: unfinished
/// inbound messages, HTTP request bodies being read, and outbound data queued for peers
/// that do not read.
///
/// Every per-connection limit can be multiplied by the number of connections (64
/// unfinished 16 MiB messages hold 1 GiB); the budget bounds the sum. The policy is to
/// refuse new work: a holder whose growth would pass the budget is refused (a WebSocket is
/// failed with 1013 Try Again Later, an HTTP request gets 503), while those that stay
/// within it go on. Small, short-lived buffers (a message that arrives whole in one read)
/// are never charged, so the hot path pays nothing.
public final class MemoryBudget: Sendable {
    /// The most bytes all holders together may be charged (`WebSocketServer.Configuration.memoryBudget`).
    public let limit: Int
    private let used = Atomic<Int>(0)
    private let refusals = Atomic<Int>(0)
    private let lastLog = Atomic<Int64>(Int64.min / 2)
    private let logger: Logger

    /// A budget of `limit` bytes; refusals are logged to `logger` (rate-limited).
    public init(limit: Int, logger: Logger = Logger(label: "duplex")) {
        precondition(limit > 0, "the memory budget must be positive")
        self.limit = limit
        self.logger = logger
    }

    /// Bytes charged now, across all connections (unfinished messages, request bodies,
    /// queued output beyond each connection's free allowance).
    public var usedBytes: Int { used.load(ordering: .relaxed) }
    /// How many times a holder was refused so far.
    public var refusedCount: Int { refusals.load(ordering: .relaxed) }

    /// Charges `bytes` more; false (and nothing charged) when that would pass the budget.
    func charge(_ bytes: Int, holder: @autoclosure () -> String) -> Bool {
        guard bytes > 0 else { return true }
        let after = used.wrappingAdd(bytes, ordering: .relaxed).newValue
        guard after > limit else { return true }
        used.wrappingSubtract(bytes, ordering: .relaxed)
        let count = refusals.wrappingAdd(1, ordering: .relaxed).newValue
        // At most one line a second: a flood of refusals must not become a flood of logs
        // (the count says how many there were in all).
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        let last = lastLog.load(ordering: .relaxed)
        if now - last >= 1_000_000_000, lastLog.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged {
            logger.warning("memory budget exceeded: refusing \(holder())", metadata: [
                "budget": "\(limit)", "used": "\(after - bytes)", "asked": "\(bytes)", "refusals": "\(count)",
            ])
        }
        return false
    }

    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        used.wrappingSubtract(bytes, ordering: .relaxed)
    }
}

/// What one holder (a connection) has charged to a ``MemoryBudget``: moves the charge to
/// a new total, and gives it all back at the end. Confined to the holder's event loop.
struct BudgetCharge {
    private(set) var charged = 0

    /// Brings the charge to `total`; false when the budget refused the growth (the charge
    /// is left as it was).
    mutating func update(to total: Int, in budget: MemoryBudget?, holder: @autoclosure () -> String) -> Bool {
        guard let budget, total != charged else { return true }
        if total < charged {
            budget.release(charged - total)
        } else if !budget.charge(total - charged, holder: holder()) {
            return false
        }
        charged = total
        return true
    }

    mutating func releaseAll(in budget: MemoryBudget?) {
        budget?.release(charged)
        charged = 0
    }
}
