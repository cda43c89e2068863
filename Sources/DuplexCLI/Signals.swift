import Dispatch
import Duplex
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the server until SIGINT or SIGTERM, then shuts it down gracefully (close 1001).
func runUntilSignal(_ server: WebSocketServer, beforeExit: @escaping @Sendable () async -> Void = {}) async throws {
    let sources = [SIGINT, SIGTERM].map { signalNumber -> DispatchSourceSignal in
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler {
            Task {
                await server.close()
            }
        }
        source.resume()
        return source
    }
    try await server.run()
    await beforeExit()
    sources.forEach { $0.cancel() }
}
