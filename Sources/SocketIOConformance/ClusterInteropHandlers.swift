import NIOCore
import SocketIO

/// What the cluster tests (Tests/cluster) use besides the interop handlers; on one node
/// they work too (there is no other server then).
///
/// Server side (from other nodes): `announce` → this node's clients get `announced` with
/// the arguments and this node's name; `whoami` (with an ack) → answered with the name.
///
/// Client events (all acknowledged):
/// - `node` → the node's name; `server-count` → `io.serverCount()`;
/// - `server-side-emit` `{"event","args"}` → `io.serverSideEmit`;
/// - `server-side-emit-ack` `{"event","args","timeout"}` → the answers, or
///   `{"error": …, "responses": […]}`;
/// - `fetch-details` room? → `[{id, rooms, data, address}]` sorted by id (or `{"error"}`);
/// - `set-data` value → `socket.data = value`;
/// - `remote` `{"op": emit|join|leave|disconnect, "target", "event", "args", "room"}` → on
///   the socket `target` as `fetchSockets` returns it (wherever it is); answers whether found;
/// - `local-to-room` `{"room","event","args"}` → `io.local.to(room).emit`;
/// - `volatile-to-room` `{"room","event","args"}` → `io.volatile.to(room).emit`.
enum ClusterInteropHandlers {
    static func install(on io: SocketIOServer, nodeName: String) {
        io.onServerSideEmit("announce") { event in
            io.local.emit("announced", arguments: event.arguments + [.string(nodeName)])
        }
        io.onServerSideEmit("whoami") { event in
            event.ack?([.string(nodeName)])
        }
        io.onConnection { socket in
            socket.on("node") { event in event.ack?.reply([.string(nodeName)]) }
            socket.onRequest("server-count") { _ in [.number(Double(await io.serverCount()))] }
            socket.on("server-side-emit") { event in
                guard let request = event.arguments.first, let name = request["event"]?.stringValue else { return }
                io.serverSideEmit(name, arguments: request["args"]?.arrayValue ?? [])
                event.ack?.reply([true])
            }
            socket.onRequest("server-side-emit-ack") { event in
                guard let request = event.arguments.first, let name = request["event"]?.stringValue else { return [] }
                let timeout = TimeAmount.milliseconds(Int64(request["timeout"]?.intValue ?? 5000))
                do {
                    return [.array(try await io.serverSideEmitWithAck(name, arguments: request["args"]?.arrayValue ?? [], timeout: timeout))]
                } catch SocketIOClusterError.timeout(let missing, let responses) {
                    let error = SocketIOClusterError.timeout(missing: missing, responses: responses)
                    return [["error": .string(error.description), "responses": .array(responses)]]
                }
            }
            socket.onRequest("fetch-details") { event in
                let found: [SocketIORemoteSocket]
                if let room = event.arguments.first?.stringValue {
                    found = try await io.in(room).fetchSockets()
                } else {
                    found = try await io.fetchSockets()
                }
                return [.array(found.sorted { $0.id < $1.id }.map { socket in
                    [
                        "id": .string(socket.id),
                        "rooms": .array(socket.rooms.sorted().map { .string($0) }),
                        "data": socket.data,
                        "address": .string(socket.handshake.address),
                        "auth": .object(socket.handshake.auth),
                    ]
                })]
            }
            socket.on("set-data") { event in
                socket.data = event.arguments.first ?? .null
                event.ack?.reply([true])
            }
            socket.onRequest("remote") { event in
                guard let request = event.arguments.first, let target = request["target"]?.stringValue,
                      let op = request["op"]?.stringValue else { return [false] }
                guard let remote = try await io.fetchSockets().first(where: { $0.id == target }) else { return [false] }
                switch op {
                case "emit": remote.emit(request["event"]?.stringValue ?? "remote", arguments: request["args"]?.arrayValue ?? [])
                case "join": remote.join(request["room"]?.stringValue ?? "")
                case "leave": remote.leave(request["room"]?.stringValue ?? "")
                case "disconnect": remote.disconnect()
                default: return [false]
                }
                return [true]
            }
            socket.on("local-to-room") { event in
                guard let request = event.arguments.first, let room = request["room"]?.stringValue,
                      let name = request["event"]?.stringValue else { return }
                io.local.to(room).emit(name, arguments: request["args"]?.arrayValue ?? [])
                event.ack?.reply([true])
            }
            socket.on("volatile-to-room") { event in
                guard let request = event.arguments.first, let room = request["room"]?.stringValue,
                      let name = request["event"]?.stringValue else { return }
                io.volatile.to(room).emit(name, arguments: request["args"]?.arrayValue ?? [])
                event.ack?.reply([true])
            }
        }
    }
}
