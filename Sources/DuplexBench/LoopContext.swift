import Histogram
import NIOCore

/// Everything the connections of one event loop share: counters, the latency histogram, and
/// the run's phase. Confined to its event loop (the runner reads and resets it with tasks
/// submitted to that loop), so the hot path takes no lock and no atomic.
final class LoopContext: @unchecked Sendable {
    let eventLoop: EventLoop

    /// Whether completions count towards the measured window.
    private(set) var measuring = false
    /// Set when the run ends: sessions stop sending new messages and let the rest drain.
    var stopping = false

    /// Latency of completions inside the measured window, in microseconds.
    private(set) var latency = LoopContext.makeHistogram()
    /// Handshake times (TCP connect started → upgrade complete), in microseconds.
    private(set) var handshakes = LoopContext.makeHistogram()

    // Counted from the start of the run.
    var sent: UInt64 = 0
    var received: UInt64 = 0
    var badLength: UInt64 = 0
    var unexpected: UInt64 = 0
    var serverCloses = 0
    var transportErrors = 0
    var firstError: String?

    // Counted inside the measured window.
    private(set) var windowSent: UInt64 = 0
    private(set) var windowReceived: UInt64 = 0

    /// The open connections of this loop, for start and shutdown.
    var connections: [ObjectIdentifier: any LoadConnection] = [:]

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    static func makeHistogram() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    }

    @inline(__always)
    func countSent() {
        sent &+= 1
        if measuring { windowSent &+= 1 }
    }

    /// A completed message (echo reply, broadcast delivery, ack) sent at `sentAt`.
    @inline(__always)
    func countReceived(sentAt: UInt64, now: UInt64) {
        received &+= 1
        if measuring {
            windowReceived &+= 1
            latency.record(now > sentAt ? (now - sentAt) / 1000 : 0)
        }
    }

    func recordHandshake(nanoseconds: UInt64) {
        handshakes.record(nanoseconds / 1000)
    }

    func noteError(_ message: String) {
        transportErrors += 1
        if firstError == nil { firstError = message }
    }

    func beginWindow() {
        eventLoop.preconditionInEventLoop()
        measuring = true
        windowSent = 0
        windowReceived = 0
        latency.reset()
    }

    func endWindow() -> LoopReport {
        eventLoop.preconditionInEventLoop()
        measuring = false
        return report()
    }

    func report() -> LoopReport {
        LoopReport(
            windowSent: windowSent, windowReceived: windowReceived, latency: latency, handshakes: handshakes,
            sent: sent, received: received, badLength: badLength, unexpected: unexpected,
            serverCloses: serverCloses, transportErrors: transportErrors, firstError: firstError,
            open: connections.count)
    }

    /// Counters only (no histogram copy), for the progress line.
    func progress() -> LoopProgress {
        LoopProgress(windowReceived: windowReceived, sent: sent, received: received, open: connections.count,
                     failures: serverCloses + transportErrors)
    }
}

struct LoopProgress: Sendable {
    var windowReceived: UInt64 = 0
    var sent: UInt64 = 0
    var received: UInt64 = 0
    var open = 0
    var failures = 0

    mutating func add(_ other: LoopProgress) {
        windowReceived += other.windowReceived
        sent += other.sent
        received += other.received
        open += other.open
        failures += other.failures
    }
}

/// A loop's counters, summed over loops by the runner.
struct LoopReport: Sendable {
    var windowSent: UInt64 = 0
    var windowReceived: UInt64 = 0
    var latency = LoopContext.makeHistogram()
    var handshakes = LoopContext.makeHistogram()
    var sent: UInt64 = 0
    var received: UInt64 = 0
    var badLength: UInt64 = 0
    var unexpected: UInt64 = 0
    var serverCloses = 0
    var transportErrors = 0
    var firstError: String?
    var open = 0

    mutating func add(_ other: LoopReport) {
        windowSent += other.windowSent
        windowReceived += other.windowReceived
        latency.add(other.latency)
        handshakes.add(other.handshakes)
        sent += other.sent
        received += other.received
        badLength += other.badLength
        unexpected += other.unexpected
        serverCloses += other.serverCloses
        transportErrors += other.transportErrors
        firstError = firstError ?? other.firstError
        open += other.open
    }
}
