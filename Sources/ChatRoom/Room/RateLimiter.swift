/// A sliding-window limit: at most `limit` events in any `window` milliseconds.
struct RateLimiter: Sendable {
    let limit: Int
    let window: Int64
    private var times: [Int64] = []

    init(limit: Int, windowMilliseconds: Int64) {
        self.limit = limit
        self.window = windowMilliseconds
        times.reserveCapacity(limit)
    }

    /// Records an event at `now` if allowed; returns false (recording nothing) otherwise.
    mutating func allow(at now: Int64) -> Bool {
        times.removeAll { now - $0 >= window }
        guard times.count < limit else { return false }
        times.append(now)
        return true
    }
}
