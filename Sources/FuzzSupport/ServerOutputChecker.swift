import NIOCore

/// Checks what a server wrote after its 101 response against RFC 6455 (§5.1–5.5, §7.4) and
/// RFC 7692: frames unmasked, reserved bits clear (RSV1 only on the first frame of a
/// compressed message), control frames whole and at most 125 bytes, lengths in their
/// shortest form, a close frame with a valid code and a UTF-8 reason, nothing after it,
/// and no half-written frame at the end.
public enum ServerOutputChecker {
    public static func check(frames output: ByteBuffer, compressionNegotiated: Bool) {
        var input = output
        var sentClose = false
        var inMessage = false
        while input.readableBytes > 0 {
            fuzzCheck(!sentClose, "server wrote \(input.readableBytes) bytes after its close frame")
            guard let b0: UInt8 = input.readInteger(), let b1: UInt8 = input.readInteger() else {
                fuzzCheck(false, "server output ends inside a frame header")
                return
            }
            let fin = b0 & 0x80 != 0
            let rsv1 = b0 & 0x40 != 0
            let opcode = b0 & 0x0F
            fuzzCheck(b0 & 0x30 == 0, "server set RSV2/RSV3")
            fuzzCheck(b1 & 0x80 == 0, "server masked a frame")
            var length = Int(b1 & 0x7F)
            if length == 126 {
                guard let l: UInt16 = input.readInteger() else { return fuzzCheck(false, "truncated length") }
                fuzzCheck(l >= 126, "16-bit length \(l) not in its shortest form")
                length = Int(l)
            } else if length == 127 {
                guard let l: UInt64 = input.readInteger() else { return fuzzCheck(false, "truncated length") }
                fuzzCheck(l > 0xFFFF && l >> 63 == 0, "64-bit length \(l) not in its shortest form")
                length = Int(l)
            }
            guard let payload = input.readSlice(length: length) else {
                fuzzCheck(false, "server output ends inside a \(length)-byte payload")
                return
            }
            switch opcode {
            case 0x8, 0x9, 0xA:
                fuzzCheck(fin && length <= 125, "control frame fragmented or \(length) bytes long")
                fuzzCheck(!rsv1, "RSV1 on a control frame")
                if opcode == 0x8 {
                    sentClose = true
                    checkClosePayload(payload)
                }
            case 0x1, 0x2:
                fuzzCheck(!inMessage, "new data message before the previous one finished")
                fuzzCheck(!rsv1 || compressionNegotiated, "RSV1 without permessage-deflate")
                if opcode == 0x1 && !rsv1 && fin {
                    let valid = payload.withUnsafeReadableBytes { String(validating: $0, as: UTF8.self) != nil }
                    fuzzCheck(valid, "uncompressed text frame with invalid UTF-8")
                }
                inMessage = !fin
            case 0x0:
                fuzzCheck(inMessage, "continuation frame outside a message")
                fuzzCheck(!rsv1, "RSV1 on a continuation frame")
                inMessage = !fin
            default:
                fuzzCheck(false, "server sent reserved opcode \(opcode)")
            }
        }
    }

    private static func checkClosePayload(_ payload: ByteBuffer) {
        var payload = payload
        guard payload.readableBytes > 0 else { return }
        guard let code: UInt16 = payload.readInteger() else {
            return fuzzCheck(false, "close frame with a 1-byte payload")
        }
        let validCodes: [ClosedRange<UInt16>] = [1000...1003, 1007...1014, 3000...4999]
        fuzzCheck(validCodes.contains { $0.contains(code) }, "server sent close code \(code)")
        let reasonValid = payload.withUnsafeReadableBytes { String(validating: $0, as: UTF8.self) != nil }
        fuzzCheck(reasonValid, "close reason is not UTF-8")
    }
}
