import ArgumentParser
import Duplex
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The write end of the pipe the signal handler writes to (set before the handler exists).
nonisolated(unsafe) private var signalPipeWriter: Int32 = -1

/// Runs a server (`run`) until SIGINT or SIGTERM, then closes it gracefully (`close`);
/// returns once it has closed. `ready` runs once SIGINT and SIGTERM are watched (print the
/// address there: a signal sent as soon as the address is seen is never lost).
///
/// The handlers are installed with `signal(2)` before `ready`, and only write the signal's
/// number to a pipe (all a handler may safely do); a thread reads the pipe and starts the
/// shutdown. A `DispatchSource` would not do: libdispatch registers it on its manager thread
/// some time after `resume()`, and a signal that came first was ignored (seen under load:
/// 4 shutdowns in 40 hung when SIGTERM followed the address line at once).
func runUntilSignal(run: () async throws -> Void, close shutdown: @escaping @Sendable () async -> Void,
                    ready: () -> Void = {}) async throws {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { throw ValidationError("cannot create the signal pipe: errno \(errno)") }
    let reader = fds[0]
    signalPipeWriter = fds[1]
    for signalNumber in [SIGINT, SIGTERM] {
        signal(signalNumber) { number in
            var byte = UInt8(truncatingIfNeeded: number)
            _ = write(signalPipeWriter, &byte, 1)
        }
    }
    Thread.detachNewThread {
        var byte: UInt8 = 0
        // Each signal starts a shutdown; a second one waits for the first (close is idempotent).
        while read(reader, &byte, 1) == 1 {
            Task { await shutdown() }
        }
    }
    ready()
    try await run()
}

/// Ports are 0 (any free one) to 65535: a larger number must not wrap to another port.
func validatePort(_ port: Int) throws {
    guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 (any free port) to 65535, not \(port)") }
}
