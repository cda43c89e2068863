import FuzzSupport
import NIOCore
import SocketIO

/// The JSON parser (RFC 8259, strict) and serializer. Besides not crashing:
/// - the three entry points ([UInt8], ByteBuffer, String) agree;
/// - whatever parses serializes to text that parses back to the same value (when the
///   value holds no ±infinity, which JSON cannot write: it becomes null, as in
///   JavaScript), and serializing that again gives the same text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let fromBytes = Result { () throws(JSONParsingError) in try JSONValue(parsing: bytes) }
    let fromBuffer = Result { () throws(JSONParsingError) in try JSONValue(parsing: ByteBuffer(bytes: bytes)) }
    fuzzCheck(fromBytes == fromBuffer, "[UInt8] and ByteBuffer parses differ: \(fromBytes) vs \(fromBuffer)")
    if let text = String(validating: bytes, as: UTF8.self) {
        let fromString = Result { () throws(JSONParsingError) in try JSONValue(parsing: text) }
        fuzzCheck(fromBytes == fromString, "[UInt8] and String parses differ: \(fromBytes) vs \(fromString)")
    } else {
        fuzzCheck((try? fromBytes.get()) == nil, "invalid UTF-8 accepted")
    }
    guard case .success(let value) = fromBytes else { return 0 }

    let text = value.serialized()
    var buffer = ByteBuffer()
    value.serialize(into: &buffer)
    fuzzCheck(String(buffer: buffer) == text, "serialized() and serialize(into:) differ")
    let reparsed: JSONValue
    do {
        reparsed = try JSONValue(parsing: text)
    } catch {
        fuzzCheck(false, "serialized text does not parse (\(error)): \(text)")
        return 0
    }
    if !value.hasInfinity {
        fuzzCheck(reparsed == value, "round trip changed the value: \(value) → \(text) → \(reparsed)")
    }
    fuzzCheck(reparsed.serialized() == text, "serializing is not stable: \(text) → \(reparsed.serialized())")
    return 0
}
