import CoreMetrics
import Synchronization

/// A server's swift-metrics instruments, made once per server so that counting costs no
/// lookup per message. Names follow Prometheus conventions (`_total` counters, base units);
/// every dimension has a bounded set of values (nothing a peer chooses freely).
///
/// - `duplex_websocket_connections`: open WebSocket connections.
/// - `duplex_websocket_handshakes_total{result="accepted"|"rejected", status}`: opening
///   handshakes; a rejected one carries the HTTP status it got.
/// - `duplex_websocket_messages_received_total`, `duplex_websocket_received_bytes_total`,
///   `duplex_websocket_messages_sent_total`, `duplex_websocket_sent_bytes_total`: data
///   messages and their payload bytes (before compression), broadcast recipients included.
/// - `duplex_websocket_messages_dropped_total`: sends discarded by the `.dropMessages`
///   backpressure policy.
/// - `duplex_websocket_closes_total{code}`: closed connections by close code (1000–1015,
///   or `application` for 3000–4999, `other` otherwise).
package final class WebSocketMetrics: Sendable {
    let connections: Meter
    let messagesReceived: Counter
    let bytesReceived: Counter
    let messagesSent: Counter
    let bytesSent: Counter
    let messagesDropped: Counter
    let handshakesAccepted: Counter
    private let factory: MetricsFactory
    private let rejected = Mutex<[Int: Counter]>([:])
    private let closes = Mutex<[String: Counter]>([:])

    package init(factory: MetricsFactory) {
        self.factory = factory
        connections = Meter(label: "duplex_websocket_connections", dimensions: [], factory: factory)
        messagesReceived = Counter(label: "duplex_websocket_messages_received_total", dimensions: [], factory: factory)
        bytesReceived = Counter(label: "duplex_websocket_received_bytes_total", dimensions: [], factory: factory)
        messagesSent = Counter(label: "duplex_websocket_messages_sent_total", dimensions: [], factory: factory)
        bytesSent = Counter(label: "duplex_websocket_sent_bytes_total", dimensions: [], factory: factory)
        messagesDropped = Counter(label: "duplex_websocket_messages_dropped_total", dimensions: [], factory: factory)
        handshakesAccepted = Counter(label: "duplex_websocket_handshakes_total", dimensions: [("result", "accepted")], factory: factory)
    }

    func handshakeRejected(status: Int) {
        let factory = self.factory
        rejected.withLock { counters in
            if let existing = counters[status] { return existing }
            let made = Counter(label: "duplex_websocket_handshakes_total", dimensions: [("result", "rejected"), ("status", "\(status)")], factory: factory)
            counters[status] = made
            return made
        }.increment()
    }

    func closed(code: UInt16) {
        let label = switch code {
        case 1000...1015: "\(code)"
        case 3000...4999: "application"
        default: "other"
        }
        let factory = self.factory
        closes.withLock { counters in
            if let existing = counters[label] { return existing }
            let made = Counter(label: "duplex_websocket_closes_total", dimensions: [("code", label)], factory: factory)
            counters[label] = made
            return made
        }.increment()
    }
}
