import NIOCore

extension SocketIOSocket {
    /// Sends one event to all of `sockets` (an application's own list, not a room): encoded
    /// once per namespace, and delivered as a broadcast is: one task per event loop, one
    /// WebSocket frame for all WebSockets of a loop, the same encoded packets queued for
    /// every polling client (their outboxes share the bytes).
    public static func emit(_ name: String, arguments: [JSONValue], to sockets: [SocketIOSocket]) {
        // Sockets that are gone are skipped at once (one atomic load each): when many
        // leave together (a shutdown), each departure is told to a list of mostly gone ones.
        let sockets = sockets.filter { $0.isConnected }
        guard let first = sockets.first else { return }
        if sockets.allSatisfy({ $0.namespace === first.namespace }) {
            deliver(name, arguments: arguments, to: sockets, in: first.namespace)
            return
        }
        var byNamespace: [ObjectIdentifier: (SocketIONamespace, [SocketIOSocket])] = [:]
        for socket in sockets {
            byNamespace[ObjectIdentifier(socket.namespace), default: (socket.namespace, [])].1.append(socket)
        }
        for (_, (namespace, group)) in byNamespace {
            deliver(name, arguments: arguments, to: group, in: namespace)
        }
    }

    private static func deliver(_ name: String, arguments: [JSONValue], to sockets: [SocketIOSocket], in namespace: SocketIONamespace) {
        let packet = SocketIOPacket.event(name, arguments, namespace: namespace.name)
        InMemoryAdapter.deliver(packet.encode(), to: sockets, volatile: false)
    }
}
