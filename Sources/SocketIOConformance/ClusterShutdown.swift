import Dispatch
import Duplex
import SocketIO
import SocketIOPostgres

#if canImport(Glibc)
import Glibc
#endif

/// On SIGINT or SIGTERM: closes the Socket.IO server (its adapters publish ADAPTER_CLOSE),
/// sends what the cluster still has queued, then stops the WebSocket server. Outside
/// main.swift on purpose: the handler runs on a Dispatch queue, not the main actor.
func closeOnSignals(io: SocketIOServer, cluster: PostgresCluster, server: WebSocketServer) -> [DispatchSourceSignal] {
    [SIGINT, SIGTERM].map { signalNumber in
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler {
            Task {
                await io.close()
                await cluster.shutdown()
                await server.close()
            }
        }
        source.resume()
        return source
    }
}
