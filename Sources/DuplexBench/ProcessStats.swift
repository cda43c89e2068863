import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic nanoseconds, comparable across the generator's threads.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    NIODeadline.now().uptimeNanoseconds
}

/// CPU and memory readings from /proc (Linux) and getrusage.
public enum ProcessStats {
    /// This process's user + system CPU seconds (all threads).
    public static func selfCPUSeconds() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    /// utime + stime of `pid` in seconds, from /proc/PID/stat (fields 14 and 15), or nil.
    public static func cpuSeconds(pid: Int32) -> Double? {
        guard let text = readFile("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        // After "pid (comm)" come: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        return (utime + stime) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident set size of `pid` in bytes, from /proc/PID/status (VmRSS), or nil.
    /// The summed resident size of `pids` (nil without any, or when one cannot be read).
    static func residentBytes(pids: [Int32]) -> Int? {
        let sizes = pids.map { residentBytes(pid: $0) }
        return sizes.isEmpty || sizes.contains(where: { $0 == nil }) ? nil : sizes.reduce(0) { $0 + $1! }
    }

    public static func residentBytes(pid: Int32) -> Int? {
        guard let text = readFile("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if parts.count >= 2, let kib = Int(parts[1]) { return kib * 1024 }
        }
        return nil
    }

    /// The whole machine's (busy, total) CPU seconds from /proc/stat, summed over all cores.
    public static func machineCPUSeconds() -> (busy: Double, total: Double)? {
        guard let text = readFile("/proc/stat"), let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let values = line.split(separator: " ").dropFirst().prefix(8).compactMap { Double($0) }
        guard values.count == 8 else { return nil }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        let total = values.reduce(0, +)
        return ((total - values[3] - values[4]) / hz, total / hz)
    }

    public static var coreCount: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// Raises the soft open-file limit to the hard one; returns the new soft limit.
    @discardableResult
    public static func raiseFileLimit() -> Int {
        var limit = rlimit()
        #if os(Linux)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(resource, &limit)
        }
        return Int(limit.rlim_cur)
    }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// One reading of the clocks a result is computed from.
struct Snapshot {
    var time: UInt64
    var selfCPU: Double
    var serverCPU: Double?
    var machine: (busy: Double, total: Double)?

    /// `serverCPU`: the sum over `serverPIDs` (nil without any, or when one cannot be read).
    static func take(serverPIDs: [Int32]) -> Snapshot {
        let cpu = serverPIDs.map { ProcessStats.cpuSeconds(pid: $0) }
        return Snapshot(
            time: monotonicNanoseconds(),
            selfCPU: ProcessStats.selfCPUSeconds(),
            serverCPU: cpu.isEmpty || cpu.contains(where: { $0 == nil }) ? nil : cpu.reduce(0) { $0 + $1! },
            machine: ProcessStats.machineCPUSeconds())
    }
}
