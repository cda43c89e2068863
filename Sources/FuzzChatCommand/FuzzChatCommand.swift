import ChatRoom
import Foundation
import FuzzSupport

/// The chat's command parser (a plain frame is a message, a frame starting with `{` a
/// JSON command) and the nickname and room rules applied to what it yields. A command
/// written back as JSON must parse to the same command; a name that passes validation
/// must stay within the rules (1–32 characters, trimmed, no control characters:
/// docs/chat-protocol.md) and pass again unchanged.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzChatCommand(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // Frames reach the parser as WebSocket text, which is valid UTF-8.
    guard let frame = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self) else { return 0 }
    let parsed = ChatCommand.parse(frame)
    guard case .success(let command) = parsed else { return 0 }

    let wire: [String: String]
    switch command {
    case .say(let text):
        wire = ["cmd": "say", "text": text]
    case .nick(let name):
        wire = ["cmd": "nick", "name": name]
        checkName(Validation.nickname(name), maxLength: 32, revalidate: Validation.nickname)
    case .join(let room):
        wire = ["cmd": "join", "room": room]
        checkName(Validation.room(room), maxLength: 32, revalidate: Validation.room)
    }
    guard let json = try? JSONEncoder().encode(wire) else {
        fuzzCheck(false, "cannot encode \(wire)")
        return 0
    }
    let again = ChatCommand.parse(String(decoding: json, as: UTF8.self))
    fuzzCheck(again == .success(command), "command round trip: \(command) → \(String(decoding: json, as: UTF8.self)) → \(again)")
    return 0
}

private func checkName(_ result: Result<String, ChatError>, maxLength: Int, revalidate: (String) -> Result<String, ChatError>) {
    guard case .success(let name) = result else { return }
    fuzzCheck(!name.isEmpty && name.count <= maxLength, "accepted name of \(name.count) characters")
    let blank: Set<Unicode.Scalar> = [" ", "\t"]
    fuzzCheck(!blank.contains(name.unicodeScalars.first!) && !blank.contains(name.unicodeScalars.last!), "accepted name not trimmed: \(name.debugDescription)")
    fuzzCheck(!name.unicodeScalars.contains { $0.properties.generalCategory == .control }, "control character in \(name.debugDescription)")
    fuzzCheck(revalidate(name) == .success(name), "validation is not idempotent for \(name.debugDescription)")
}
