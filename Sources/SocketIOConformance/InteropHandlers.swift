import NIOCore
import SocketIO

/// The server side of the python-socketio interop tests (Tests/socketio).
///
/// Main namespace `/`:
/// - middleware: auth `{"token":"reject"}` is refused with message `unauthorized` and
///   data `{"reason":"bad token"}`;
/// - on connection: `welcome` `{"id","namespace","auth","transport"}`;
/// - `echo` → `echo` with the same arguments; `ack-echo` → acknowledged with them;
/// - `ask-client` `{"event","args","timeout"}` → the server emits `event` with an ack
///   request and reports with `asked` `{"ok":true,"reply":[…]}` or `{"ok":false,"error":…}`;
/// - `join` / `leave` a room (acked with the rooms), `rooms` (acked), `to-room`
///   `{"room","event","args"}` → `io.to(room)`, `broadcast` `{"event","args"}` →
///   `socket.broadcast`, `except-room` `{"room","event","args"}` → `io.except(room)`;
/// - `fetch-sockets` room → acked with the sorted ids; `sockets-join` `{"room","target"}`,
///   `sockets-leave`, `disconnect-room` room;
/// - `ack-all` `{"room","event","timeout"}` → a broadcast with acks, acked with the
///   answers or `{"error":"timeout","responses":[…]}`;
/// - `disconnect-me` → `socket.disconnect()`; `transport` → acked with the transport;
/// - `observe` → joins `observers`, who get `disconnected` `{"id","namespace","reason"}`
///   for every socket that leaves any namespace;
/// - `stats` `{"socket"?}` → acked with `{"namespaces","sessions"}` and, for a socket id
///   of `/`, `"pendingAcks"`: the acknowledgements that socket still waits for (the bounds
///   tests watch these counts).
/// - `drop-transport` → closes the socket's Engine.IO session (`socket.conn.close()`, as a
///   network failure: the client reconnects by itself); `emit-many` `{"rooms"?, "except"?,
///   "event", "count", "binary"?, "padding"?}` → `count` events `event` with the arguments
///   `[i]`, i = 0..<count, to `io.to(rooms).except(except)`, acked once emitted (the recovery
///   tests); `binary: true` adds a second argument, the bytes `[i % 256, 255]`; `padding: n`
///   one more, a string of n "x" (at most 1 MiB);
///   `compress-check` → `plain-socket`, `deflated-socket`, `plain-room`, `deflated-room`:
///   one 480-character text each, with and without `compress(false)` (the compress test).
/// Namespace `/custom` and dynamic namespaces `/dyn-<digits>`: `welcome` and `echo`.
enum InteropHandlers {
    static func install(on io: SocketIOServer) {
        io.use { socket in
            if socket.handshake.auth["token"] == "reject" {
                throw SocketIOMiddlewareError("unauthorized", data: ["reason": "bad token"])
            }
        }
        io.onConnection { socket in
            common(socket, io: io)
            socket.on("ack-echo") { event in event.ack?.reply(event.arguments) }
            socket.on("ask-client") { event in
                guard let request = event.arguments.first, let name = request["event"]?.stringValue else { return }
                let timeout = TimeAmount.milliseconds(Int64(request["timeout"]?.intValue ?? 1000))
                socket.emit(name, arguments: request["args"]?.arrayValue ?? [], timeout: timeout) { result in
                    switch result {
                    case .success(let reply): socket.emit("asked", ["ok": true, "reply": .array(reply)])
                    case .failure(let error): socket.emit("asked", ["ok": false, "error": .string("\(error)")])
                    }
                }
            }
            socket.on("join") { event in
                for room in event.arguments.compactMap(\.stringValue) { socket.join(room) }
                event.ack?.reply([sortedRooms(socket)])
            }
            socket.on("leave") { event in
                for room in event.arguments.compactMap(\.stringValue) { socket.leave(room) }
                event.ack?.reply([sortedRooms(socket)])
            }
            socket.on("rooms") { event in event.ack?.reply([sortedRooms(socket)]) }
            socket.on("to-room") { event in
                guard let request = event.arguments.first, let room = request["room"]?.stringValue,
                      let name = request["event"]?.stringValue else { return }
                io.to(room).emit(name, arguments: request["args"]?.arrayValue ?? [])
            }
            socket.on("except-room") { event in
                guard let request = event.arguments.first, let room = request["room"]?.stringValue,
                      let name = request["event"]?.stringValue else { return }
                io.except(room).emit(name, arguments: request["args"]?.arrayValue ?? [])
            }
            socket.on("broadcast") { event in
                guard let request = event.arguments.first, let name = request["event"]?.stringValue else { return }
                socket.broadcast.emit(name, arguments: request["args"]?.arrayValue ?? [])
            }
            socket.onRequest("fetch-sockets") { event in
                let found: [SocketIORemoteSocket]
                if let room = event.arguments.first?.stringValue {
                    found = try await io.in(room).fetchSockets()
                } else {
                    found = try await io.fetchSockets()
                }
                return [.array(found.map(\.id).sorted().map { .string($0) })]
            }
            socket.on("sockets-join") { event in
                guard let request = event.arguments.first, let room = request["room"]?.stringValue,
                      let target = request["target"]?.stringValue else { return }
                io.in(room).socketsJoin(target)
                event.ack?.reply([true])
            }
            socket.on("sockets-leave") { event in
                guard let request = event.arguments.first, let room = request["room"]?.stringValue,
                      let target = request["target"]?.stringValue else { return }
                io.in(room).socketsLeave(target)
                event.ack?.reply([true])
            }
            socket.on("disconnect-room") { event in
                guard let room = event.arguments.first?.stringValue else { return }
                io.in(room).disconnectSockets()
            }
            socket.onRequest("ack-all") { event in
                guard let request = event.arguments.first, let room = request["room"]?.stringValue,
                      let name = request["event"]?.stringValue else { return [] }
                let timeout = TimeAmount.milliseconds(Int64(request["timeout"]?.intValue ?? 1000))
                do {
                    let responses = try await io.to(room).timeout(timeout).emitWithAck(name)
                    return [.array(responses.map { .array($0) })]
                } catch SocketIOAckError.timeout(let responses) {
                    return [["error": "timeout", "responses": .array(responses.map { .array($0) })]]
                }
            }
            socket.on("disconnect-me") { _ in socket.disconnect() }
            socket.on("drop-transport") { _ in socket.conn.close() }
            socket.on("compress-check") { event in
                // The same text four ways: to the socket and through a broadcast, each
                // with and without compress(false) (run with --deflate).
                let text = JSONValue.string(String(repeating: "compressible ", count: 40))
                socket.emit("plain-socket", arguments: [text], compress: false)
                socket.emit("deflated-socket", arguments: [text])
                io.to(socket.id).compress(false).emit("plain-room", text)
                io.to(socket.id).emit("deflated-room", text)
                event.ack?.reply([])
            }
            socket.on("emit-many") { event in
                guard let request = event.arguments.first, let name = request["event"]?.stringValue else { return }
                let rooms = (request["rooms"]?.arrayValue ?? []).compactMap(\.stringValue)
                let except = (request["except"]?.arrayValue ?? []).compactMap(\.stringValue)
                let target = io.except().to(rooms).except(except)  // everyone, narrowed
                let binary = request["binary"]?.boolValue ?? false
                let padding = max(0, min(request["padding"]?.intValue ?? 0, 1 << 20))
                for index in 0..<max(0, min(request["count"]?.intValue ?? 1, 100_000)) {
                    var arguments: [JSONValue] = [.number(Double(index))]
                    if binary { arguments.append(.binary(ByteBuffer(bytes: [UInt8(index % 256), 255]))) }
                    if padding > 0 { arguments.append(.string(String(repeating: "x", count: padding))) }
                    target.emit(name, arguments: arguments)
                }
                event.ack?.reply([true])
            }
            socket.on("stats") { event in
                guard let ack = event.ack else { return }
                let stats: JSONObject = [
                    "namespaces": .number(Double(io.namespaceCount)),
                    "sessions": .number(Double(io.engine.clientsCount)),
                ]
                guard let id = event.arguments.first?["socket"]?.stringValue, let target = io.sockets.socket(id: id) else {
                    ack.reply([.object(stats)])
                    return
                }
                target.pendingAcknowledgements().whenSuccess { count in
                    var withAcks = stats
                    withAcks["pendingAcks"] = .number(Double(count))
                    ack.reply([.object(withAcks)])
                }
            }
            socket.on("observe") { event in
                socket.join("observers")
                event.ack?.reply([true])
            }
        }
        io.of("/custom").onConnection { socket in common(socket, io: io) }
        if let dynamic = try? io.of(regex: "^/dyn-[0-9]+$") {
            dynamic.onConnection { socket in common(socket, io: io) }
        }
    }

    private static func common(_ socket: SocketIOSocket, io: SocketIOServer) {
        socket.emit("welcome", [
            "id": .string(socket.id),
            "namespace": .string(socket.namespace.name),
            "auth": .object(socket.handshake.auth),
            "transport": .string(socket.transport.rawValue),
        ])
        socket.on("echo") { event in socket.emit("echo", arguments: event.arguments) }
        socket.on("transport") { event in event.ack?.reply([.string(socket.transport.rawValue)]) }
        socket.onDisconnect { reason in
            io.to("observers").emit("disconnected", [
                "id": .string(socket.id), "namespace": .string(socket.namespace.name), "reason": .string(reason.rawValue),
            ])
        }
    }

    private static func sortedRooms(_ socket: SocketIOSocket) -> JSONValue {
        .array(socket.rooms.sorted().map { .string($0) })
    }
}
