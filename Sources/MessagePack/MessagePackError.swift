/// Why bytes are not one MessagePack value.
public struct MessagePackError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// The input ends inside a value (a length prefix announces more than is there).
        case truncated
        /// 0xc1, the one byte the format never uses.
        case invalidByte(UInt8)
        /// A `str` that is not UTF-8.
        case invalidUTF8
        /// Arrays and maps nested deeper than the decoder's limit.
        case tooDeep
        /// Bytes after the value.
        case trailingBytes
    }

    public var reason: Reason
    /// Where in the input (bytes from the start).
    public var offset: Int

    public init(_ reason: Reason, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        switch reason {
        case .truncated: "MessagePack input ends inside a value at byte \(offset)"
        case .invalidByte(let byte): "invalid MessagePack byte 0x\(String(byte, radix: 16)) at \(offset)"
        case .invalidUTF8: "MessagePack string at byte \(offset) is not UTF-8"
        case .tooDeep: "MessagePack nesting too deep at byte \(offset)"
        case .trailingBytes: "bytes after the MessagePack value at \(offset)"
        }
    }
}
