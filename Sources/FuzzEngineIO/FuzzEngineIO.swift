import FuzzSupport
import NIOCore
import SocketIO

/// The Engine.IO v4 decoders: one packet (a WebSocket text frame), a polling payload
/// (records split by 0x1E, binary as `b<base64>`), and the OPEN handshake JSON.
/// Whatever decodes must encode and decode back to the same packets.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEngineIO(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))

    // One packet, as a WebSocket text frame carries it.
    if let packet = try? EngineIOPacket(textBytes: buffer) {
        let again = Result { () throws(EngineIOParserError) in try EngineIOPacket(text: packet.encodedText) }
        fuzzCheck(again == .success(packet), "single packet round trip: \(packet) → \(again)")
        if case .text(let frame) = packet.webSocketFrame {
            fuzzCheck((try? EngineIOPacket(text: frame)) == packet, "WebSocket frame round trip: \(packet)")
        }
    }

    // A polling body, with the limits the server uses.
    if let packets = try? EngineIOPayload.decode(buffer, maxBytes: 100_000, maxPackets: 256) {
        fuzzCheck(!packets.isEmpty && packets.count <= 256, "\(packets.count) packets from one payload")
        let encoded = EngineIOPayload.encode(packets)
        let again = Result { () throws(EngineIOParserError) in try EngineIOPayload.decode(encoded) }
        fuzzCheck(again == .success(packets), "payload round trip: \(packets) → \(again)")
        fuzzCheck(EngineIOPayload.encodeToString(packets) == String(buffer: encoded), "encode and encodeToString differ")
        fuzzCheck(encoded.readableBytes == packets.map(\.encodedByteCount).reduce(packets.count - 1, +),
                  "encodedByteCount disagrees with the encoding")
        let fitting = EngineIOPayload.countFitting(packets, maxBytes: size / 2)
        fuzzCheck(fitting >= 1 && fitting <= packets.count, "countFitting gave \(fitting) of \(packets.count)")
        if let text = String(validating: buffer.readableBytesView, as: UTF8.self) {
            let fromString = Result { () throws(EngineIOParserError) in try EngineIOPayload.decode(text) }
            fuzzCheck(fromString == .success(packets), "String and ByteBuffer payload decodes differ")
        }
    }

    if let text = String(validating: buffer.readableBytesView, as: UTF8.self), let handshake = EngineIOHandshake(json: text) {
        fuzzCheck(EngineIOHandshake(json: handshake.json) == handshake, "handshake JSON round trip: \(handshake)")
    }
    return 0
}
