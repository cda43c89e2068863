import NIOCore
import Synchronization

/// The open sessions of one server, by id, with the counts the session limits need
/// (`maxSessions`, `maxSessionsPerAddress`). Admission and counting happen under one lock,
/// so concurrent handshakes cannot overshoot a limit.
final class EngineIOSessionRegistry: Sendable {
    /// Why a handshake was refused.
    enum Refusal: Error, Sendable, Equatable {
        case serverFull
        case addressFull

        var message: String { "Too many sessions" }

        var logDescription: String {
            switch self {
            case .serverFull: "the server is at maxSessions"
            case .addressFull: "the remote address is at maxSessionsPerAddress"
            }
        }
    }

    private struct State {
        var sessions: [String: EngineIOSocket] = [:]
        var perAddress: [String: Int] = [:]
    }

    private let state = Mutex(State())
    let maxSessions: Int
    let maxPerAddress: Int

    init(maxSessions: Int, maxPerAddress: Int) {
        self.maxSessions = maxSessions
        self.maxPerAddress = maxPerAddress
    }

    /// The key a session is counted under; nil when the address is unknown.
    static func addressKey(_ address: SocketAddress?) -> String? {
        address?.ipAddress
    }

    var count: Int { state.withLock { $0.sessions.count } }

    var all: [EngineIOSocket] { state.withLock { Array($0.sessions.values) } }

    func session(_ id: String) -> EngineIOSocket? {
        state.withLock { $0.sessions[id] }
    }

    /// Whether a new session from `address` would be admitted now (a WebSocket handshake
    /// asks before the upgrade; the session is registered after it).
    func check(address: SocketAddress?) -> Refusal? {
        let key = Self.addressKey(address)
        return state.withLock { refusal(in: $0, key: key) }
    }

    /// Registers a new session unless a limit is reached.
    func register(_ session: EngineIOSocket) -> Refusal? {
        let key = Self.addressKey(session.request.remoteAddress)
        return state.withLock { state in
            if let refusal = refusal(in: state, key: key) { return refusal }
            state.sessions[session.id] = session
            if let key { state.perAddress[key, default: 0] += 1 }
            return nil
        }
    }

    func remove(_ session: EngineIOSocket) {
        let key = Self.addressKey(session.request.remoteAddress)
        state.withLock { state in
            guard state.sessions.removeValue(forKey: session.id) != nil, let key else { return }
            let left = (state.perAddress[key] ?? 1) - 1
            state.perAddress[key] = left > 0 ? left : nil
        }
    }

    private func refusal(in state: State, key: String?) -> Refusal? {
        if state.sessions.count >= maxSessions { return .serverFull }
        if let key, state.perAddress[key, default: 0] >= maxPerAddress { return .addressFull }
        return nil
    }
}
