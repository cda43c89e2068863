import NIOCore

/// The scenarios of `duplex bench`. Each opens its connections, measures, closes them and
/// returns the result (it throws when the server cannot be reached or refuses the upgrade).
public enum Bench {
    public struct EchoParameters: Sendable {
        public var connections = 100
        public var size = 20
        public var binary = false
        public var window = 1
        public init() {}
    }

    public struct BroadcastParameters: Sendable {
        /// All connections receive every message (publishers included).
        public var connections = 100
        public var publishers = 1
        public var size = 32
        public var window = 1
        /// Growth: add `step` connections until p95 latency passes `p95Bound` (µs) or `maxConnections`.
        public var growthStep: Int?
        public var maxConnections = 10_000
        public var p95Bound: UInt64 = 100_000
        public init() {}
    }

    /// `duplex bench chat`: every connection a member of one room of `duplex chat`.
    public struct ChatParameters: Sendable {
        public var connections = 100
        public var publishers = 10
        /// Messages per second of each publisher (the chat's limit is 20 per 5 s).
        public var rate = 2.0
        public var size = 32
        public init() {}
    }

    public struct ConnectParameters: Sendable {
        public var connections = 1_000
        /// Connections started per second (nil: as fast as `connectConcurrency` allows).
        public var rate: Double?
        public var hold = 5.0
        /// Echo one message on every connection before reading memory.
        public var touch = false
        public init() {}
    }

    public enum SocketIOMode: String, Sendable, CaseIterable { case echo, broadcast }

    // MARK: echo

    public static func echo(_ options: BenchOptions, _ parameters: EchoParameters) async throws -> BenchResult {
        let runner = try BenchRunner(options: options)
        let template = EchoTemplate(size: parameters.size, binary: parameters.binary)
        let window = parameters.window
        return try await run(runner) {
            try await runner.open(count: parameters.connections) { _ in EchoSession(template: template, window: window) }
            let measurement = try await runner.measure(fanOut: 1, unit: "msg")
            var result = summarize(measurement, runner: runner, scenario: "echo", connections: parameters.connections)
            result.size = parameters.size
            result.binary = parameters.binary
            result.window = window
            return result
        }
    }

    // MARK: broadcast

    public static func broadcast(_ options: BenchOptions, _ parameters: BroadcastParameters) async throws -> BenchResult {
        try await broadcast(options, parameters, socketIO: false)
    }

    static func broadcast(_ options: BenchOptions, _ parameters: BroadcastParameters, socketIO: Bool) async throws -> BenchResult {
        let runner = try BenchRunner(options: options)
        let template = socketIO
            ? BroadcastTemplate(size: parameters.size, prefix: Array("42[\"broadcast\",\"".utf8), suffix: Array("\"]".utf8), receivedOffset: nil)
            : BroadcastTemplate(size: parameters.size)
        let publishers = max(1, min(parameters.publishers, parameters.connections))
        let window = parameters.window
        let scenario = socketIO ? "socketio-broadcast" : "broadcast"
        // Publishers are spread evenly over the connections (and so over the loops).
        let stride = max(1, parameters.connections / publishers)
        let makeSession: @Sendable (Int) -> BroadcastSession = { index in
            let isPublisher = index % stride == 0 && index / stride < publishers
            return BroadcastSession(template: template, publisher: isPublisher ? UInt32(index / stride) : nil, window: window, socketIO: socketIO)
        }
        return try await run(runner) {
            var connections = parameters.connections
            try await runner.open(count: connections, makeSession: makeSession)
            var measurement = try await runner.measure(fanOut: connections, unit: "deliveries")
            var result = summarize(measurement, runner: runner, scenario: scenario, connections: connections)
            result.size = max(parameters.size, BroadcastTemplate.stampLength)
            result.window = window
            result.publishers = publishers
            guard let step = parameters.growthStep, step > 0 else { return result }

            // Growth: the classic shootout method.
            var steps = [result]
            var largest: Int? = (result.latencyMicroseconds?.p95 ?? .max) <= parameters.p95Bound && result.ok ? connections : nil
            while largest == connections, connections + step <= parameters.maxConnections {
                try await runner.open(first: connections, count: step) { index in
                    BroadcastSession(template: template, publisher: nil, window: window, socketIO: socketIO)
                }
                connections += step
                measurement = try await runner.measure(fanOut: connections, unit: "deliveries")
                var stepResult = summarize(measurement, runner: runner, scenario: scenario, connections: connections)
                stepResult.size = result.size
                stepResult.window = window
                stepResult.publishers = publishers
                steps.append(stepResult)
                if (stepResult.latencyMicroseconds?.p95 ?? .max) <= parameters.p95Bound && stepResult.ok { largest = connections }
            }
            var final = steps.last!
            final.steps = steps
            final.p95BoundMicroseconds = parameters.p95Bound
            final.largestHeld = largest
            return final
        }
    }

    // MARK: connect

    public static func connect(_ options: BenchOptions, _ parameters: ConnectParameters) async throws -> BenchResult {
        let runner = try BenchRunner(options: options)
        let touch = parameters.touch ? EchoTemplate(size: 20, binary: false) : nil
        return try await run(runner) {
            let rssBefore = ProcessStats.residentBytes(pids: options.serverPIDs)
            let start = Snapshot.take(serverPIDs: options.serverPIDs)
            try await runner.open(count: parameters.connections, rate: parameters.rate) { _ in IdleSession(touch: touch) }
            let connected = Snapshot.take(serverPIDs: options.serverPIDs)
            if touch != nil {
                await runner.startAll()
                let deadline = monotonicNanoseconds() + 30_000_000_000
                while await runner.totals().received < UInt64(parameters.connections), monotonicNanoseconds() < deadline {
                    try await Task.sleep(nanoseconds: 20_000_000)
                }
            }
            // Hold, and take the largest RSS seen.
            var rssAfter: Int?
            let holdEnd = monotonicNanoseconds() + UInt64(parameters.hold * 1e9)
            repeat {
                if let rss = ProcessStats.residentBytes(pids: options.serverPIDs) { rssAfter = max(rssAfter ?? 0, rss) }
                let left = holdEnd > monotonicNanoseconds() ? holdEnd - monotonicNanoseconds() : 0
                if left > 0 { try await Task.sleep(nanoseconds: min(left, 500_000_000)) }
            } while monotonicNanoseconds() < holdEnd
            if let rss = ProcessStats.residentBytes(pids: options.serverPIDs) { rssAfter = max(rssAfter ?? 0, rss) }
            let totals = await runner.totals()

            let seconds = Double(connected.time - start.time) / 1e9
            var result = BenchResult(
                scenario: "connect", label: options.label, target: targetURL(options), connections: parameters.connections,
                threads: runner.loops.count, warmupSeconds: 0, seconds: seconds,
                messages: 0, messagesPerSecond: 0, sentInWindow: 0,
                clientCPUPercent: 100 * (connected.selfCPU - start.selfCPU) / seconds,
                clientCPUSeconds: connected.selfCPU - start.selfCPU,
                sent: totals.sent, received: totals.received, expected: totals.sent,
                missing: totals.sent > totals.received ? totals.sent - totals.received : 0,
                badLength: totals.badLength, unexpected: totals.unexpected,
                errors: totals.transportErrors + totals.serverCloses + (parameters.connections - totals.open),
                firstError: totals.firstError ?? (totals.open < parameters.connections ? "\(parameters.connections - totals.open) connections closed while held" : nil))
            result.handshakesPerSecond = Double(parameters.connections) / seconds
            result.handshakeMicroseconds = LatencySummary(totals.handshakes)
            if let before = start.serverCPU, let after = connected.serverCPU {
                result.serverCPUSeconds = after - before
                result.serverCPUPercent = 100 * (after - before) / seconds
                if after > before { result.handshakesPerServerCPUSecond = Double(parameters.connections) / (after - before) }
            }
            if let busy = start.machine, let later = connected.machine, later.total > busy.total {
                result.machineBusyPercent = 100 * (later.busy - busy.busy) / (later.total - busy.total)
            }
            result.holdSeconds = parameters.hold
            result.serverRSSBeforeBytes = rssBefore
            result.serverRSSAfterBytes = rssAfter
            if let rssBefore, let rssAfter, parameters.connections > 0 {
                result.serverRSSPerConnectionBytes = Double(rssAfter - rssBefore) / Double(parameters.connections)
            }
            return result
        }
    }

    // MARK: socketio

    public static func socketIOEcho(_ options: BenchOptions, _ parameters: EchoParameters) async throws -> BenchResult {
        var options = options
        if options.path == "/" { options.path = socketIOPath }
        let runner = try BenchRunner(options: options)
        let size = parameters.size
        let window = parameters.window
        return try await run(runner) {
            try await runner.open(count: parameters.connections) { _ in SocketIOEchoSession(size: size, window: window) }
            let measurement = try await runner.measure(fanOut: 1, unit: "acks")
            var result = summarize(measurement, runner: runner, scenario: "socketio-echo", connections: parameters.connections)
            result.size = size
            result.window = window
            return result
        }
    }

    public static func chat(_ options: BenchOptions, _ parameters: ChatParameters) async throws -> BenchResult {
        let runner = try BenchRunner(options: options)
        let template = BroadcastTemplate(size: parameters.size)
        let publishers = max(1, min(parameters.publishers, parameters.connections))
        let interval = TimeAmount.nanoseconds(Int64(1e9 / max(0.01, parameters.rate)))
        let stride = max(1, parameters.connections / publishers)
        return try await run(runner) {
            try await runner.open(count: parameters.connections) { index in
                let isPublisher = index % stride == 0 && index / stride < publishers
                return ChatSession(template: template, publisher: isPublisher ? UInt32(index / stride) : nil, interval: interval)
            }
            let measurement = try await runner.measure(fanOut: parameters.connections, unit: "deliveries")
            var result = summarize(measurement, runner: runner, scenario: "chat", connections: parameters.connections)
            result.size = max(parameters.size, BroadcastTemplate.stampLength)
            result.publishers = publishers
            return result
        }
    }

    public static func socketIOBroadcast(_ options: BenchOptions, _ parameters: BroadcastParameters) async throws -> BenchResult {
        var options = options
        if options.path == "/" { options.path = socketIOPath }
        return try await broadcast(options, parameters, socketIO: true)
    }

    /// Engine.IO v4, WebSocket transport only (no long-polling first).
    public static let socketIOPath = "/socket.io/?EIO=4&transport=websocket"

    // MARK: Helpers

    private static func run(_ runner: BenchRunner, _ body: () async throws -> BenchResult) async throws -> BenchResult {
        do {
            let result = try await body()
            await runner.shutdown()
            return result
        } catch {
            await runner.shutdown()
            throw error
        }
    }

    static func targetURL(_ options: BenchOptions) -> String {
        options.ports.map { "ws://\(options.host):\($0)\(options.path)" }.joined(separator: " ")
    }

    static func summarize(_ m: BenchRunner.Measurement, runner: BenchRunner, scenario: String, connections: Int) -> BenchResult {
        let options = runner.options
        let messages = m.window.windowReceived
        let clientCPU = m.end.selfCPU - m.start.selfCPU
        var result = BenchResult(
            scenario: scenario, label: options.label, target: targetURL(options), connections: connections,
            threads: runner.loops.count, warmupSeconds: options.warmup, seconds: m.seconds,
            messages: messages, messagesPerSecond: Double(messages) / m.seconds, sentInWindow: m.window.windowSent,
            latencyMicroseconds: LatencySummary(m.window.latency),
            clientCPUPercent: 100 * clientCPU / m.seconds, clientCPUSeconds: clientCPU,
            sent: m.sent, received: m.received, expected: m.expected,
            missing: m.expected > m.received ? m.expected - m.received : 0,
            badLength: m.final.badLength, unexpected: m.final.unexpected,
            errors: m.final.transportErrors + m.final.serverCloses, firstError: m.final.firstError)
        if let before = m.start.serverCPU, let after = m.end.serverCPU {
            result.serverCPUSeconds = after - before
            result.serverCPUPercent = 100 * (after - before) / m.seconds
            if after > before { result.messagesPerServerCPUSecond = Double(messages) / (after - before) }
        }
        if let before = m.start.machine, let after = m.end.machine, after.total > before.total {
            result.machineBusyPercent = 100 * (after.busy - before.busy) / (after.total - before.total)
        }
        return result
    }
}
