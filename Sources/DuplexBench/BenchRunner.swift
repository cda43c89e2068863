import Foundation
import Duplex
import Histogram
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where and how the generator connects, common to every scenario.
public struct BenchOptions: Sendable {
    public var host = "127.0.0.1"
    /// The servers' ports: connections go round-robin over them (one server, or the nodes
    /// of a cluster; connection 0, the first publisher, goes to the first).
    public var ports = [3000]
    /// The first (or only) port.
    public var port: Int {
        get { ports[0] }
        set { ports = [newValue] }
    }
    public var path = "/"
    /// Event loops (threads) of the generator; connections are spread over them round-robin.
    public var threads = max(1, ProcessStats.coreCount)
    public var warmup = 2.0
    public var duration = 10.0
    /// The servers' process ids, for their CPU time and memory (summed over them).
    public var serverPIDs: [Int32] = []
    /// The first (or only) server's process id.
    public var serverPID: Int32? {
        get { serverPIDs.first }
        set { serverPIDs = newValue.map { [$0] } ?? [] }
    }
    /// Most connections in the middle of their handshake at once.
    public var connectConcurrency = 64
    /// Seconds to wait for the last messages after the window before calling them missing.
    public var drainTimeout = 5.0
    public var label = "run"
    public var progress = false

    public init() {}
}

/// Owns the generator's event loops and connections for one run.
final class BenchRunner: Sendable {
    let options: BenchOptions
    let group: MultiThreadedEventLoopGroup
    let loops: [LoopContext]
    /// Per port of ``BenchOptions/ports``: where to connect, and the upgrade request.
    private let targets: [(port: Int, address: SocketAddress, request: ByteBuffer)]

    init(options: BenchOptions) throws {
        self.options = options
        guard ["127.0.0.1", "localhost", "::1"].contains(options.host) || options.host.hasPrefix("127.") else {
            throw BenchError.connectFailed("only loopback targets are allowed (got \(options.host))")
        }
        guard !options.ports.isEmpty else { throw BenchError.connectFailed("no server port given") }
        self.targets = try options.ports.map { port in
            do {
                let address = try SocketAddress.makeAddressResolvingHost(options.host, port: port)
                let request = ClientWire.upgradeRequest(host: options.host, port: port, path: options.path, allocator: ByteBufferAllocator())
                return (port, address, request)
            } catch {
                throw BenchError.connectFailed("\(options.host):\(port): \(SocketErrorText.describe(error))")
            }
        }
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
        self.loops = group.makeIterator().map { LoopContext(eventLoop: $0) }
    }

    func shutdown() async {
        await onEveryLoop { loop in
            loop.stopping = true
            for connection in loop.connections.values { connection.shutdown() }
        }
        try? await Task.sleep(nanoseconds: 50_000_000)
        try? await group.shutdownGracefully()
    }

    // MARK: Connections

    /// Opens connections `first..<first+count` (at most `connectConcurrency` handshaking at once,
    /// at most `rate` started per second) and waits until each is ready.
    func open<Session: BenchSession>(
        first: Int = 0, count: Int, rate: Double? = nil,
        makeSession: @escaping @Sendable (Int) -> Session
    ) async throws {
        let concurrency = max(1, options.connectConcurrency)
        let started = monotonicNanoseconds()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            var inFlight = 0
            for offset in 0..<count {
                if inFlight >= concurrency {
                    try await tasks.next()
                    inFlight -= 1
                }
                if let rate, rate > 0 {
                    let due = started + UInt64(Double(offset) / rate * 1e9)
                    let now = monotonicNanoseconds()
                    if due > now { try await Task.sleep(nanoseconds: due - now) }
                }
                let index = first + offset
                tasks.addTask { try await self.connect(index: index, makeSession: makeSession) }
                inFlight += 1
            }
            try await tasks.waitForAll()
        }
    }

    private func connect<Session: BenchSession>(index: Int, makeSession: @escaping @Sendable (Int) -> Session) async throws {
        let loop = loops[index % loops.count]
        let target = targets[index % targets.count]
        let ready = loop.eventLoop.makePromise(of: Void.self)
        let request = target.request
        let bootstrap = ClientBootstrap(group: loop.eventLoop)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = LoadHandler(session: makeSession(index), loop: loop, request: request, ready: ready)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        do {
            _ = try await bootstrap.connect(to: target.address).get()
        } catch {
            ready.fail(error)
            throw BenchError.connectFailed("\(options.host):\(target.port): \(SocketErrorText.describe(error))")
        }
        try await ready.futureResult.get()
    }

    // MARK: Loops

    @discardableResult
    func onEveryLoop<T: Sendable>(_ body: @escaping @Sendable (LoopContext) -> T) async -> [T] {
        var results: [T] = []
        for loop in loops {
            if let value = try? await loop.eventLoop.submit({ body(loop) }).get() { results.append(value) }
        }
        return results
    }

    func totals() async -> LoopReport {
        var total = LoopReport()
        for report in await onEveryLoop({ $0.report() }) { total.add(report) }
        return total
    }

    func progress() async -> LoopProgress {
        var total = LoopProgress()
        for report in await onEveryLoop({ $0.progress() }) { total.add(report) }
        return total
    }

    func startAll() async {
        await onEveryLoop { loop in
            loop.stopping = false
            for connection in loop.connections.values { connection.start() }
        }
    }

    // MARK: The measured run

    struct Measurement {
        var window: LoopReport
        var seconds: Double
        var start: Snapshot
        var end: Snapshot
        /// Counters after the drain, relative to the start of this measurement.
        var sent: UInt64
        var received: UInt64
        var expected: UInt64
        var final: LoopReport
    }

    /// Starts the load, warms up, measures a fixed window, stops and drains.
    /// `fanOut` is how many deliveries each sent message should cause (1 for echo).
    func measure(fanOut: Int, unit: String) async throws -> Measurement {
        let before = await totals()
        await startAll()
        try await sleep(seconds: options.warmup)
        await onEveryLoop { $0.beginWindow() }
        let start = Snapshot.take(serverPIDs: options.serverPIDs)
        let end = start.time + UInt64(options.duration * 1e9)
        var lastTime = start.time
        var lastCount: UInt64 = 0
        while true {
            let now = monotonicNanoseconds()
            guard now < end else { break }
            try await Task.sleep(nanoseconds: min(1_000_000_000, end - now))
            if options.progress {
                let progress = await progress()
                let time = monotonicNanoseconds()
                let rate = Double(progress.windowReceived - lastCount) / (Double(time - lastTime) / 1e9)
                writeStandardError(String(
                    format: "[%@] %4.1fs  %@ %@/s  open %d  failures %d\n", options.label,
                    Double(time - start.time) / 1e9, formatCount(rate), unit, progress.open, progress.failures))
                lastTime = time
                lastCount = progress.windowReceived
            }
        }
        var window = LoopReport()
        for report in await onEveryLoop({ $0.endWindow() }) { window.add(report) }
        let stop = Snapshot.take(serverPIDs: options.serverPIDs)
        await onEveryLoop { $0.stopping = true }

        // Drain: every message sent must come back (fanOut times).
        let drainEnd = monotonicNanoseconds() + UInt64(options.drainTimeout * 1e9)
        var final = await totals()
        while monotonicNanoseconds() < drainEnd {
            let sent = final.sent - before.sent
            if final.received - before.received >= sent * UInt64(fanOut) { break }
            try await Task.sleep(nanoseconds: 20_000_000)
            final = await totals()
        }
        return Measurement(
            window: window, seconds: Double(stop.time - start.time) / 1e9, start: start, end: stop,
            sent: final.sent - before.sent, received: final.received - before.received,
            expected: (final.sent - before.sent) * UInt64(fanOut), final: final)
    }

    func sleep(seconds: Double) async throws {
        guard seconds > 0 else { return }
        try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
    }
}

func formatCount(_ value: Double) -> String {
    if value >= 10_000_000 { return String(format: "%.1fM", value / 1e6) }
    if value >= 10_000 { return String(format: "%.1fk", value / 1e3) }
    return String(format: "%.0f", value)
}
