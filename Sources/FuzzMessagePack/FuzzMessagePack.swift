import FuzzSupport
import MessagePack
import NIOCore

/// The MessagePack decoder (the PostgreSQL adapter's attachments). Besides not crashing
/// and not allocating what a length prefix announces (libFuzzer's -rss_limit_mb and
/// -malloc_limit_mb catch that):
/// - whatever decodes encodes to bytes that decode to the same value, and encoding that
///   again gives the same bytes;
/// - the ByteBuffer and the byte-collection entry points agree.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMessagePack(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let fromBuffer = Result { () throws(MessagePackError) in try MessagePackValue(decoding: ByteBuffer(bytes: bytes)) }
    let fromBytes = Result { () throws(MessagePackError) in try MessagePackValue(decoding: Array(bytes)) }
    switch (fromBuffer, fromBytes) {
    case (.success(let a), .success(let b)): fuzzCheck(a == b, "entry points differ: \(a) vs \(b)")
    case (.failure(let a), .failure(let b)): fuzzCheck(a == b, "entry points fail differently: \(a) vs \(b)")
    default: fuzzCheck(false, "one entry point accepts what the other refuses")
    }
    guard case .success(let value) = fromBuffer else { return 0 }
    let encoded = value.encoded()
    let decoded: MessagePackValue
    do {
        decoded = try MessagePackValue(decoding: encoded)
    } catch {
        fuzzCheck(false, "own encoding does not decode (\(error)): \(value)")
        return 0
    }
    fuzzCheck(decoded == value, "round trip changed the value: \(value) → \(decoded)")
    fuzzCheck(decoded.encoded() == encoded, "encoding is not stable for \(value)")
    return 0
}
