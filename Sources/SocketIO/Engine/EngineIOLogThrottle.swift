import NIOCore
import Synchronization

/// Lets one warning of a kind through per interval and counts the ones held back: a flood
/// of refused handshakes or closed sessions must not become a flood of log lines.
final class EngineIOLogThrottle: Sendable {
    private let state = Mutex<(next: NIODeadline, heldBack: Int)>((.uptimeNanoseconds(0), 0))
    let interval: TimeAmount

    init(interval: TimeAmount = .seconds(1)) {
        self.interval = interval
    }

    /// nil: stay silent this time; otherwise log, mentioning how many were held back since
    /// the last line.
    func admit() -> Int? {
        let now = NIODeadline.now()
        return state.withLock { state in
            guard now >= state.next else {
                state.heldBack += 1
                return nil
            }
            let heldBack = state.heldBack
            state.heldBack = 0
            state.next = now + interval
            return heldBack
        }
    }
}
