import NIOCore
import SocketIO
import Synchronization

/// What one namespace waits for from the other nodes: requests that gather one answer per
/// node (fetchSockets, serverSideEmit with acks) and broadcasts with acks. Both bounded;
/// every entry ends at its timeout at the latest.
final class ClusterRequests: Sendable {
    typealias Completion = @Sendable (Result<[JSONValue], SocketIOClusterError>) -> Void

    private struct Gathering {
        var missing: Set<String>
        var responses: [JSONValue]
        let completion: Completion
        let timeout: Scheduled<Void>?
    }

    struct AckRequest {
        let clientCount: @Sendable (Int) -> Void
        let ack: @Sendable ([JSONValue]) -> Void
    }

    private struct State {
        var gatherings: [String: Gathering] = [:]
        var acks: [String: AckRequest] = [:]
    }

    private let state = Mutex(State())
    private let eventLoop: EventLoop
    let limit: Int

    init(eventLoop: EventLoop, limit: Int) {
        self.eventLoop = eventLoop
        self.limit = limit
    }

    var pendingCount: Int { state.withLock { $0.gatherings.count + $0.acks.count } }

    /// Starts a request that waits for an answer from each of `nodes` (the answers it has
    /// already, `initial`, come first). Returns false (and completes at once with
    /// `tooManyPendingRequests`) when the limit is reached.
    func startGathering(id: String, nodes: Set<String>, initial: [JSONValue], timeout: TimeAmount,
                        completion: @escaping Completion) -> Bool {
        let admitted = state.withLock { state in
            guard state.gatherings.count + state.acks.count < limit else { return false }
            state.gatherings[id] = Gathering(missing: nodes, responses: initial, completion: completion, timeout: nil)
            return true
        }
        guard admitted else {
            completion(.failure(.tooManyPendingRequests(limit: limit)))
            return false
        }
        let timer = eventLoop.scheduleTask(in: timeout) { [weak self] () -> Void in self?.timeOut(id) }
        state.withLock { state in
            if let request = state.gatherings[id] {
                state.gatherings[id] = Gathering(missing: request.missing, responses: request.responses,
                                                 completion: request.completion, timeout: timer)
            } else {
                timer.cancel()
            }
        }
        return true
    }

    /// An answer from `uid` to request `id` (unknown ids are other nodes' requests).
    func answer(id: String, from uid: String, responses: [JSONValue]) {
        let finished: Gathering? = state.withLock { state in
            guard var request = state.gatherings[id], request.missing.contains(uid) else { return nil }
            request.missing.remove(uid)
            request.responses.append(contentsOf: responses)
            if request.missing.isEmpty {
                state.gatherings[id] = nil
                return request
            }
            state.gatherings[id] = request
            return nil
        }
        if let finished {
            finished.timeout?.cancel()
            finished.completion(.success(finished.responses))
        }
    }

    /// Node `uid` is gone: no request waits for it any longer.
    func nodeLeft(_ uid: String) {
        let finished: [Gathering] = state.withLock { state in
            var done: [Gathering] = []
            for (id, var request) in state.gatherings where request.missing.contains(uid) {
                request.missing.remove(uid)
                if request.missing.isEmpty {
                    state.gatherings[id] = nil
                    done.append(request)
                } else {
                    state.gatherings[id] = request
                }
            }
            return done
        }
        for request in finished {
            request.timeout?.cancel()
            request.completion(.success(request.responses))
        }
    }

    private func timeOut(_ id: String) {
        guard let request = state.withLock({ $0.gatherings.removeValue(forKey: id) }) else { return }
        request.completion(.failure(.timeout(missing: request.missing.count, responses: request.responses)))
    }

    // MARK: - Broadcasts with acks

    /// Remembers a broadcast's callbacks until `timeout`; false at the limit.
    func startAck(id: String, request: AckRequest, timeout: TimeAmount) -> Bool {
        let admitted = state.withLock { state in
            guard state.gatherings.count + state.acks.count < limit else { return false }
            state.acks[id] = request
            return true
        }
        guard admitted else { return false }
        eventLoop.scheduleTask(in: timeout) { [weak self] in
            _ = self?.state.withLock { $0.acks.removeValue(forKey: id) }
        }
        return true
    }

    func ackRequest(_ id: String) -> AckRequest? {
        state.withLock { $0.acks[id] }
    }

    /// Fails every gathering request (the adapter closes).
    func cancelAll() {
        let all = state.withLock { state in
            let all = Array(state.gatherings.values)
            state.gatherings = [:]
            state.acks = [:]
            return all
        }
        for request in all {
            request.timeout?.cancel()
            request.completion(.failure(.timeout(missing: request.missing.count, responses: request.responses)))
        }
    }
}
