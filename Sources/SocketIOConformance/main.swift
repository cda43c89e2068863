// duplex-socketio-conformance [--port 3000] [--host 127.0.0.1] [--interop]
//     [--ping-interval MS] [--ping-timeout MS] [--connect-timeout MS]
//     [--max-buffered-bytes N] [--max-sessions N] [--max-sessions-per-address N]
//     [--max-child-namespaces N]
//
// Default: the setup of the official protocol test suites on one port: `/engine.io/`
// echoes every message (Engine.IO suite), `/socket.io/` is the Socket.IO suite's server.
// Heartbeat 300/200 ms, maxPayload 1000000, connectTimeout 1000 ms, CORS `*`.
//
// --interop: the server of the python-socketio interop tests (Tests/socketio) at
// `/socket.io/`, with the handlers they use (see InteropHandlers.swift).
//
// --threads N: event loops (default: one per core).
//
// --postgres URL: a node of a Socket.IO cluster on that PostgreSQL database
// (postgres://user[:password]@host:port/db, `?host=/dir` for a Unix socket), wire-compatible
// with Node's @socket.io/postgres-adapter (docs/cluster.md). SIGTERM/SIGINT then close the
// server and the adapters (ADAPTER_CLOSE) before exiting. --node-name NAME: what this node
// answers to the interop cluster events (default: the port). --attachments-cleanup MS: how
// often (and past what age) the attachments table is cleaned (default 30000).
//
// --recovery: connection state recovery on (docs/socketio.md); --recovery-max-disconnection MS
// sets how long a session is kept (default 120000), --recovery-max-packets N and
// --recovery-max-sessions N the bounds of the packet log and the session table.
//
// --bench: the server `duplex bench socketio` measures (same handlers as the peer in
// Benchmarks/servers/socketio_server.py): "echo" is acked with its arguments, "broadcast"
// emits "message" with its arguments to every socket. Default Engine.IO heartbeat.
import Duplex
import NIOCore
import Logging
import NIOPosix
import PostgresNIO
import SocketIO
import SocketIOPostgres

#if canImport(Glibc)
import Glibc
#endif

struct Arguments {
    var port = 3000
    var host = "127.0.0.1"
    var interop = false
    var bench = false
    var pingInterval: Int?
    var pingTimeout: Int?
    var connectTimeout: Int?
    var maxBufferedBytes: Int?
    var maxSessions: Int?
    var maxSessionsPerAddress: Int?
    var maxChildNamespaces: Int?
    var threads: Int?
    var postgres: String?
    var nodeName: String?
    var attachmentsCleanup: Int?
    var recovery = false
    var deflate = false
    var recoveryMaxDisconnection: Int?
    var recoveryMaxPackets: Int?
    var recoveryMaxSessions: Int?

    init(_ argv: [String]) {
        var iterator = argv.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--port": port = Int(iterator.next() ?? "") ?? port
            case "--host": host = iterator.next() ?? host
            case "--interop": interop = true
            case "--bench": bench = true
            case "--ping-interval": pingInterval = Int(iterator.next() ?? "")
            case "--ping-timeout": pingTimeout = Int(iterator.next() ?? "")
            case "--connect-timeout": connectTimeout = Int(iterator.next() ?? "")
            case "--max-buffered-bytes": maxBufferedBytes = Int(iterator.next() ?? "")
            case "--max-sessions": maxSessions = Int(iterator.next() ?? "")
            case "--max-sessions-per-address": maxSessionsPerAddress = Int(iterator.next() ?? "")
            case "--max-child-namespaces": maxChildNamespaces = Int(iterator.next() ?? "")
            case "--threads": threads = Int(iterator.next() ?? "")
            case "--postgres": postgres = iterator.next()
            case "--node-name": nodeName = iterator.next()
            case "--attachments-cleanup": attachmentsCleanup = Int(iterator.next() ?? "")
            case "--recovery": recovery = true
            case "--deflate": deflate = true
            case "--recovery-max-disconnection": recoveryMaxDisconnection = Int(iterator.next() ?? "")
            case "--recovery-max-packets": recoveryMaxPackets = Int(iterator.next() ?? "")
            case "--recovery-max-sessions": recoveryMaxSessions = Int(iterator.next() ?? "")
            case "-h", "--help":
                print("usage: duplex-socketio-conformance [--port 3000] [--host 127.0.0.1] [--interop | --bench] [--ping-interval MS] [--ping-timeout MS] [--connect-timeout MS] [--max-buffered-bytes N] [--max-sessions N] [--max-sessions-per-address N] [--max-child-namespaces N] [--threads N] [--postgres URL] [--node-name NAME] [--attachments-cleanup MS] [--recovery] [--recovery-max-disconnection MS] [--recovery-max-packets N] [--recovery-max-sessions N] [--deflate]")
                exit(0)
            default:
                print("unknown argument \(argument)")
                exit(2)
            }
        }
    }
}

let arguments = Arguments(CommandLine.arguments)

var socketIOOptions = SocketIOServerOptions()
socketIOOptions.engine.pingInterval = .milliseconds(Int64(arguments.pingInterval ?? (arguments.bench ? 25_000 : arguments.interop ? 1000 : 300)))
socketIOOptions.engine.pingTimeout = .milliseconds(Int64(arguments.pingTimeout ?? (arguments.bench ? 20_000 : arguments.interop ? 1000 : 200)))
// permessage-deflate for WebSocket clients that offer it, from 64 bytes (the compress tests).
if arguments.deflate { socketIOOptions.engine.compression = PerMessageDeflateOptions(minimumSize: 64) }
socketIOOptions.engine.maxHttpBufferSize = 1_000_000
socketIOOptions.engine.cors = EngineIOCORSOptions(origin: .any)
socketIOOptions.connectTimeout = .milliseconds(Int64(arguments.connectTimeout ?? 1000))
// The limits: the library's defaults unless given (the tests set them small).
if let value = arguments.maxBufferedBytes { socketIOOptions.engine.maxBufferedBytes = value }
if let value = arguments.maxSessions { socketIOOptions.engine.maxSessions = value }
if let value = arguments.maxSessionsPerAddress { socketIOOptions.engine.maxSessionsPerAddress = value }
if let value = arguments.maxChildNamespaces { socketIOOptions.maxChildNamespaces = value }
if arguments.recovery {
    var recovery = SocketIOConnectionStateRecovery()
    if let value = arguments.recoveryMaxDisconnection { recovery.maxDisconnectionDuration = .milliseconds(Int64(value)) }
    if let value = arguments.recoveryMaxPackets { recovery.maxLoggedPackets = value }
    if let value = arguments.recoveryMaxSessions { recovery.maxSessions = value }
    socketIOOptions.connectionStateRecovery = recovery
}
var cluster: PostgresCluster?
if let url = arguments.postgres {
    var logger = Logger(label: "duplex.socketio.postgres")
    logger.logLevel = .info
    do {
        var clusterOptions = PostgresAdapterOptions()
        if let value = arguments.attachmentsCleanup { clusterOptions.cleanupInterval = .milliseconds(Int64(value)) }
        cluster = PostgresCluster(configuration: try PostgresConnection.Configuration(url: url), options: clusterOptions,
                                  logger: logger)
    } catch {
        print("--postgres: \(error)")
        exit(2)
    }
    socketIOOptions.adapter = cluster!.adapterFactory
}
let io = SocketIOServer(options: socketIOOptions)

var configuration = WebSocketServer.Configuration()
configuration.webSocket.pingInterval = nil  // Engine.IO pings by itself
configuration.httpHandler = { request in
    // Below the mounted servers: a health check for the test harnesses.
    if request.path == "/healthz" {
        return request.eventLoop.makeSucceededFuture(HTTPResponse(body: "ok\n"))
    }
    return request.eventLoop.makeSucceededFuture(HTTPResponse(status: .notFound, body: "not found\n"))
}

let engineEcho: EngineIOServer?
if arguments.bench {
    engineEcho = nil
    io.onConnection { socket in
        socket.on("echo") { event in event.ack?.reply(event.arguments) }
        socket.on("broadcast") { event in io.emit("message", arguments: event.arguments) }
    }
} else if arguments.interop {
    engineEcho = nil
    InteropHandlers.install(on: io)
    ClusterInteropHandlers.install(on: io, nodeName: arguments.nodeName ?? String(arguments.port))
} else {
    var engineOptions = EngineIOOptions()
    engineOptions.path = "/engine.io/"
    engineOptions.pingInterval = socketIOOptions.engine.pingInterval
    engineOptions.pingTimeout = socketIOOptions.engine.pingTimeout
    engineOptions.maxHttpBufferSize = 1_000_000
    engineOptions.cors = EngineIOCORSOptions(origin: .any)
    let engine = EngineIOServer(options: engineOptions) { socket in
        socket.onMessage { message in
            switch message {
            case .text(let text): socket.send(text)
            case .binary(let data): socket.send(data)
            }
        }
    }
    engine.mount(into: &configuration)
    engineEcho = engine
    ConformanceHandlers.install(on: io)
}
io.mount(into: &configuration)

let group: EventLoopGroup = arguments.threads.map { MultiThreadedEventLoopGroup(numberOfThreads: max(1, $0)) }
    ?? MultiThreadedEventLoopGroup.singleton
let server = WebSocketServer(configuration: configuration, group: group) { connection in
    if let engineEcho, engineEcho.accept(connection) { return }
    if io.accept(connection) { return }
    connection.close(code: .policyViolation, reason: "no such endpoint")
}
cluster?.start()
// A cluster node says goodbye on SIGTERM/SIGINT (the others drop it at once).
let signalSources = cluster.map { closeOnSignals(io: io, cluster: $0, server: server) } ?? []
let port = try await server.listen(port: arguments.port, host: arguments.host)
print("duplex-socketio-conformance listening on \(arguments.host):\(port)\(arguments.interop ? " (interop)" : "")\(cluster != nil ? " (cluster on PostgreSQL)" : "")")
try await server.run()
signalSources.forEach { $0.cancel() }
