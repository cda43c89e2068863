/// An incremental UTF-8 validator (RFC 3629), fed chunk by chunk so a text message
/// split across fragments can be rejected at the first bad byte (fail fast).
struct UTF8Validator: Sendable {
    /// Continuation bytes still expected for the current scalar.
    private var remaining: UInt8 = 0
    /// Allowed range of the next continuation byte (narrowed after E0, ED, F0, F4).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// Whether the input so far ended on a scalar boundary.
    var isComplete: Bool { remaining == 0 }

    mutating func reset() { self = UTF8Validator() }

    /// Validates the next chunk. Returns false at the first invalid byte.
    mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let count = bytes.count
        guard let base = bytes.baseAddress else { return true }
        while i < count {
            if remaining == 0 {
                // ASCII fast path, eight bytes at a time.
                while i + 8 <= count {
                    let word = (base + i).loadUnaligned(as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    i += 8
                }
                if i >= count { break }
                let byte = base.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                switch byte {
                case 0x00...0x7F: continue
                case 0xC2...0xDF: remaining = 1; lower = 0x80; upper = 0xBF
                case 0xE0: remaining = 2; lower = 0xA0; upper = 0xBF
                case 0xE1...0xEC, 0xEE...0xEF: remaining = 2; lower = 0x80; upper = 0xBF
                case 0xED: remaining = 2; lower = 0x80; upper = 0x9F  // no UTF-16 surrogates
                case 0xF0: remaining = 3; lower = 0x90; upper = 0xBF
                case 0xF1...0xF3: remaining = 3; lower = 0x80; upper = 0xBF
                case 0xF4: remaining = 3; lower = 0x80; upper = 0x8F  // nothing above U+10FFFF
                default: return false
                }
            } else {
                let byte = base.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                guard byte >= lower && byte <= upper else { return false }
                remaining -= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }

    /// Validates a complete byte sequence.
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.validate(bytes) && validator.isComplete
    }
}
