import FuzzSupport
import NIOCore
import SocketIO

/// The Socket.IO v5 packet decoder, with binary attachments. The input is a sequence of
/// Engine.IO messages separated by 0x1E: a record starting with 0xFF is a binary
/// attachment (the rest of it), any other record a text packet (skipped when not UTF-8,
/// which the Engine.IO layer refuses first). Every complete packet must encode and decode
/// back to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSocketIO(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    var decoder = SocketIOPacketDecoder()
    for record in bytes.split(separator: 0x1E, omittingEmptySubsequences: false) {
        let result: Result<SocketIOPacket?, SocketIOParserError>
        if record.first == 0xFF {
            let attachment = ByteBuffer(bytes: record.dropFirst())
            result = Result { () throws(SocketIOParserError) in try decoder.decode(attachment: attachment) }
        } else if let text = String(validating: record, as: UTF8.self) {
            result = Result { () throws(SocketIOParserError) in try decoder.decode(text: text) }
        } else {
            continue
        }
        switch result {
        case .success(let packet?):
            fuzzCheck(!decoder.isAwaitingAttachments, "a packet came out while attachments are pending")
            checkRoundTrip(packet)
        case .success(nil):
            fuzzCheck(decoder.isAwaitingAttachments, "no packet, yet nothing pending")
        case .failure:
            fuzzCheck(!decoder.isAwaitingAttachments, "an error left the decoder waiting for attachments")
        }
    }
    return 0
}

private func checkRoundTrip(_ packet: SocketIOPacket) {
    if let payload = packet.payload, payload.hasInfinity { return }  // JSON writes ±infinity as null
    let encoded = packet.encode()
    var decoder = SocketIOPacketDecoder()
    var again: SocketIOPacket?
    do {
        again = try decoder.decode(text: encoded.text)
        for attachment in encoded.attachments {
            fuzzCheck(again == nil, "packet complete before all \(encoded.attachments.count) attachments")
            again = try decoder.decode(attachment: attachment)
        }
    } catch {
        fuzzCheck(false, "re-encoded packet does not decode (\(error)): \(packet) → \(encoded.text)")
    }
    fuzzCheck(again.map { normalized($0) } == normalized(packet), "round trip changed the packet: \(packet) → \(encoded.text) → \(again.map { "\($0)" } ?? "nil")")
}

/// BINARY_EVENT/BINARY_ACK without any binary left (no attachments, or none referenced)
/// are sent as EVENT/ACK: the same packet.
private func normalized(_ packet: SocketIOPacket) -> SocketIOPacket {
    var packet = packet
    if !(packet.payload?.containsBinary ?? false) {
        if packet.type == .binaryEvent { packet.type = .event }
        if packet.type == .binaryAck { packet.type = .ack }
    }
    return packet
}
