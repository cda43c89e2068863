import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A 4-byte masking key (RFC 6455 §5.3), kept in wire order.
struct MaskingKey: Sendable, Equatable {
    var b0: UInt8, b1: UInt8, b2: UInt8, b3: UInt8

    init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) {
        (self.b0, self.b1, self.b2, self.b3) = (b0, b1, b2, b3)
    }

    /// A fresh key from the system's random source, as clients must use for every frame
    /// (RFC 6455 §10.3: unpredictable). Drawn from a per-thread pool refilled from
    /// /dev/urandom once per 512 keys rather than a system call per frame.
    static func random() -> MaskingKey {
        let v = MaskingKeyPool.current.next()
        return MaskingKey(UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8),
                          UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 24))
    }

    @inline(__always) func byte(_ index: Int) -> UInt8 {
        switch index & 3 {
        case 0: return b0
        case 1: return b1
        case 2: return b2
        default: return b3
        }
    }

    /// XORs `source` into `destination` (which may be the same memory), eight bytes at a
    /// time. `keyOffset` is the position of `source[0]` within the payload, so a payload
    /// handled in pieces is masked piece by piece.
    @inline(__always)
    func apply(source: UnsafeRawPointer, destination: UnsafeMutableRawPointer, count: Int, keyOffset: Int = 0) {
        var i = 0
        if count >= 16 {
            // The 8-byte pattern starting at the key phase; 8 is a multiple of 4 so the
            // phase is the same after every whole word.
            var pattern: UInt64 = 0
            for j in 0..<8 { pattern |= UInt64(byte(keyOffset &+ j)) << (UInt64(j) * 8) }
            #if _endian(big)
            pattern = pattern.byteSwapped
            #endif
            let words = count / 8
            var w = 0
            while w < words {
                let word = (source + w &* 8).loadUnaligned(as: UInt64.self)
                (destination + w &* 8).storeBytes(of: word ^ pattern, as: UInt64.self)
                w &+= 1
            }
            i = words &* 8
        }
        while i < count {
            let masked = source.load(fromByteOffset: i, as: UInt8.self) ^ byte(keyOffset &+ i)
            destination.storeBytes(of: masked, toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
    }
}

/// System randomness fetched in blocks, one pool per thread (kept in ``LoopData``: no locking).
final class MaskingKeyPool: @unchecked Sendable {
    private static let size = 512

    static var current: MaskingKeyPool { LoopData.current.maskingKeys }

    private var words = [UInt32](repeating: 0, count: MaskingKeyPool.size)
    private var index = MaskingKeyPool.size

    func next() -> UInt32 {
        if index == words.count { refill() }
        defer { index += 1 }
        return words[index]
    }

    /// One read of /dev/urandom per 512 keys; the system generator if that fails.
    private func refill() {
        index = 0
        #if canImport(Glibc) || canImport(Darwin)
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            let filled = words.withUnsafeMutableBytes { bytes -> Bool in
                var offset = 0
                while offset < bytes.count {
                    let n = read(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return false }
                    offset += n
                }
                return true
            }
            if filled { return }
        }
        #endif
        var generator = SystemRandomNumberGenerator()
        for i in words.indices { words[i] = generator.next() }
    }
}
