/// Random identifiers: 15 random bytes as 20 URL-safe base64 characters.
enum RandomID {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20)
        for _ in 0..<5 {
            // 24 random bits → 4 characters.
            let bits = UInt32.random(in: 0..<(1 << 24), using: &generator)
            for shift in stride(from: 18, through: 0, by: -6) {
                bytes.append(alphabet[Int((bits >> UInt32(shift)) & 63)])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
