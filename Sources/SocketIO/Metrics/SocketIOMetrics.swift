import CoreMetrics

/// The swift-metrics instruments of one namespace, with the names Socket.IO users know from
/// the Node exporters, and the namespace as their one dimension (namespaces are the
/// server's, dynamic ones capped: a bounded set).
///
/// - `socket_io_connected{namespace}`: connected sockets.
/// - `socket_io_connect_total`, `socket_io_disconnect_total`: connections and disconnections.
/// - `socket_io_events_received_total`, `socket_io_events_sent_total`: events, each
///   broadcast recipient counted.
/// - `socket_io_acks_timed_out_total`: acknowledgements not answered in time (the
///   socket's own and broadcasts').
/// - `socket_io_rooms{namespace}`: rooms that exist on this node (the sockets' own rooms
///   included, as in the reference adapter).
package final class SocketIONamespaceMetrics: Sendable {
    let connected: Meter
    let connects: Counter
    let disconnects: Counter
    let eventsReceived: Counter
    let eventsSent: Counter
    let acksTimedOut: Counter
    package let rooms: Meter

    package init(namespace: String, factory: MetricsFactory) {
        let dimensions = [("namespace", namespace)]
        connected = Meter(label: "socket_io_connected", dimensions: dimensions, factory: factory)
        connects = Counter(label: "socket_io_connect_total", dimensions: dimensions, factory: factory)
        disconnects = Counter(label: "socket_io_disconnect_total", dimensions: dimensions, factory: factory)
        eventsReceived = Counter(label: "socket_io_events_received_total", dimensions: dimensions, factory: factory)
        eventsSent = Counter(label: "socket_io_events_sent_total", dimensions: dimensions, factory: factory)
        acksTimedOut = Counter(label: "socket_io_acks_timed_out_total", dimensions: dimensions, factory: factory)
        rooms = Meter(label: "socket_io_rooms", dimensions: dimensions, factory: factory)
    }
}
