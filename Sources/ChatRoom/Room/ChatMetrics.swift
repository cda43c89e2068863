import CoreMetrics

/// The chat's swift-metrics instruments (made once per hub; see docs/metrics.md).
///
/// - `duplex_chat_messages_total`: messages stored and delivered to their room.
/// - `duplex_chat_messages_refused_total`: messages refused because the store was behind
///   (`overloaded`).
/// - `duplex_chat_members`: connections placed in a room (WebSocket and Socket.IO).
/// - `duplex_chat_rooms`: rooms that exist on this node.
final class ChatMetrics: Sendable {
    let messages: Counter
    let refused: Counter
    let members: Meter
    let rooms: Meter

    init(factory: MetricsFactory) {
        messages = Counter(label: "duplex_chat_messages_total", dimensions: [], factory: factory)
        refused = Counter(label: "duplex_chat_messages_refused_total", dimensions: [], factory: factory)
        members = Meter(label: "duplex_chat_members", dimensions: [], factory: factory)
        rooms = Meter(label: "duplex_chat_rooms", dimensions: [], factory: factory)
    }
}
