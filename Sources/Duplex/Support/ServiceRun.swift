import NIOCore
import ServiceLifecycle

/// How every Duplex server runs: until it is closed, by a call to `close` or by its
/// `ServiceGroup` (graceful shutdown, e.g. on SIGTERM) or the cancellation of its task,
/// either of which closes it gracefully first.
package func runUntilClosed(_ closed: EventLoopFuture<Void>, close: @escaping @Sendable () async -> Void) async throws {
    try await withGracefulShutdownHandler {
        try await withTaskCancellationHandler {
            try await closed.get()
        } onCancel: {
            Task { await close() }
        }
    } onGracefulShutdown: {
        Task { await close() }
    }
}
