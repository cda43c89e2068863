import Foundation
import Histogram

/// Latency percentiles in microseconds.
public struct LatencySummary: Codable, Sendable, Equatable {
    public var count: UInt64
    public var p50: UInt64
    public var p90: UInt64
    public var p95: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64
    public var mean: Double

    init(_ histogram: Histogram<UInt64>) {
        count = histogram.totalCount
        p50 = histogram.valueAtPercentile(50)
        p90 = histogram.valueAtPercentile(90)
        p95 = histogram.valueAtPercentile(95)
        p99 = histogram.valueAtPercentile(99)
        p999 = histogram.valueAtPercentile(99.9)
        max = histogram.max
        mean = histogram.totalCount > 0 ? histogram.mean : 0
    }
}

/// The outcome of one run, printed as a summary or as JSON (`--json`).
public struct BenchResult: Codable, Sendable {
    public var scenario: String
    public var label: String
    public var target: String
    public var connections: Int
    public var size: Int?
    public var binary: Bool?
    public var window: Int?
    public var publishers: Int?
    public var threads: Int
    public var warmupSeconds: Double
    /// Length of the measured window.
    public var seconds: Double

    /// Completed messages in the window: echo replies, broadcast deliveries, acks.
    public var messages: UInt64
    public var messagesPerSecond: Double
    /// Messages sent in the window (for broadcast: published).
    public var sentInWindow: UInt64
    public var latencyMicroseconds: LatencySummary?

    /// The generator's CPU (user + system) over the window, in % of one core.
    public var clientCPUPercent: Double
    public var clientCPUSeconds: Double
    /// The server's CPU over the window (needs `--server-pid`), in % of one core.
    public var serverCPUPercent: Double?
    public var serverCPUSeconds: Double?
    /// Messages (deliveries, acks) per second of server CPU time: the comparison figure.
    public var messagesPerServerCPUSecond: Double?
    /// The whole machine's busy time over the window, in % of all cores.
    public var machineBusyPercent: Double?

    /// Sent and received after the drain, and the deliveries that never came.
    public var sent: UInt64
    public var received: UInt64
    public var expected: UInt64
    public var missing: UInt64
    public var badLength: UInt64
    public var unexpected: UInt64
    public var errors: Int
    public var firstError: String?

    // connect
    public var handshakesPerSecond: Double?
    public var handshakeMicroseconds: LatencySummary?
    public var handshakesPerServerCPUSecond: Double?
    public var holdSeconds: Double?
    public var serverRSSBeforeBytes: Int?
    public var serverRSSAfterBytes: Int?
    public var serverRSSPerConnectionBytes: Double?

    // broadcast growth
    public var p95BoundMicroseconds: UInt64?
    public var largestHeld: Int?
    public var steps: [BenchResult]?

    /// No errors, nothing missing or malformed, and something was measured.
    public var ok: Bool {
        errors == 0 && missing == 0 && badLength == 0 && unexpected == 0 && (messages > 0 || scenario == "connect")
    }

    public func json(pretty: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The human summary.
    public var summary: String {
        var lines: [String] = []
        var what = "\(scenario) \(target), \(connections) connections"
        if let size { what += ", \(size) B" + (binary == true ? " binary" : binary == false ? " text" : "") }
        if let window { what += ", window \(window)" }
        if let publishers { what += ", \(publishers) publishers" }
        lines.append("\(label): \(what), \(threads) threads")
        if scenario != "connect" {
            let unit = scenario.hasSuffix("broadcast") ? "deliveries" : "messages"
            lines.append(String(format: "  %@: %llu in %.2f s = %@/s (sent %llu)", unit, messages, seconds, formatCount(messagesPerSecond), sentInWindow))
            if let latency = latencyMicroseconds {
                lines.append("  latency µs: p50 \(latency.p50)  p90 \(latency.p90)  p95 \(latency.p95)  p99 \(latency.p99)  max \(latency.max)")
            }
        }
        if let handshakesPerSecond, let latency = handshakeMicroseconds {
            lines.append(String(format: "  handshakes: %.0f/s; latency µs p50 %llu p99 %llu max %llu", handshakesPerSecond, latency.p50, latency.p99, latency.max))
        }
        var cpu = String(format: "  cpu: generator %.0f%%", clientCPUPercent)
        if let serverCPUPercent { cpu += String(format: ", server %.0f%%", serverCPUPercent) }
        if let machineBusyPercent { cpu += String(format: ", machine %.0f%% of all cores", machineBusyPercent) }
        lines.append(cpu)
        if let perCPU = messagesPerServerCPUSecond {
            lines.append(String(format: "  per server CPU-second: %@", formatCount(perCPU)))
        }
        if let perCPU = handshakesPerServerCPUSecond {
            lines.append(String(format: "  handshakes per server CPU-second: %@", formatCount(perCPU)))
        }
        if let after = serverRSSAfterBytes, let before = serverRSSBeforeBytes, let per = serverRSSPerConnectionBytes {
            lines.append(String(format: "  server RSS: %.1f MB → %.1f MB = %.0f B per connection", Double(before) / 1e6, Double(after) / 1e6, per))
        }
        if let steps, let bound = p95BoundMicroseconds {
            for step in steps {
                lines.append(String(format: "  N=%d: %@ deliveries/s, p95 %llu µs", step.connections, formatCount(step.messagesPerSecond), step.latencyMicroseconds?.p95 ?? 0))
            }
            lines.append("  largest N with p95 ≤ \(bound) µs: \(largestHeld.map(String.init) ?? "none")")
        }
        lines.append("  check: sent \(sent), received \(received) of \(expected) expected, missing \(missing), bad length \(badLength), unexpected \(unexpected), errors \(errors)" + (firstError.map { " (\($0))" } ?? ""))
        lines.append(ok ? "  OK" : "  FAILED")
        return lines.joined(separator: "\n")
    }
}
