import NIOCore

/// Frames as a client sends them (masked), for harnesses that build their own frames.
public enum ClientFrames {
    /// A fixed masking key: not zero, so unmasking really changes bytes.
    static let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    public static func frame(opcode: UInt8, fin: Bool = true, rsv1: Bool = false, payload: some Collection<UInt8>) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.writeInteger((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0F) as UInt8)
        let length = payload.count
        if length < 126 {
            frame.writeInteger(0x80 | UInt8(length))
        } else if length <= 0xFFFF {
            frame.writeInteger(0x80 | 126 as UInt8)
            frame.writeInteger(UInt16(length))
        } else {
            frame.writeInteger(0x80 | 127 as UInt8)
            frame.writeInteger(UInt64(length))
        }
        frame.writeBytes(mask)
        for (i, byte) in payload.enumerated() {
            frame.writeInteger(byte ^ mask[i & 3])
        }
        return frame
    }
}
