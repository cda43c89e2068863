import ArgumentParser
import Dispatch
import Duplex
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a server (`run`) until SIGINT or SIGTERM, then closes it gracefully (`close`);
/// returns once it has closed. `ready` runs once SIGINT and SIGTERM are watched (print the
/// address there: a signal sent as soon as the address is seen is never lost).
func runUntilSignal(run: () async throws -> Void, close shutdown: @escaping @Sendable () async -> Void,
                    ready: () -> Void = {}) async throws {
    let sources = [SIGINT, SIGTERM].map { signalNumber -> DispatchSourceSignal in
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler {
            Task { await shutdown() }
        }
        source.resume()
        return source
    }
    ready()
    try await run()
    sources.forEach { $0.cancel() }
}

/// Ports are 0 (any free one) to 65535: a larger number must not wrap to another port.
func validatePort(_ port: Int) throws {
    guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 (any free port) to 65535, not \(port)") }
}
