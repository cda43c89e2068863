import Duplex
/// The rules for names people choose.
package enum Validation {
    static let maxNicknameLength = 32
    static let maxRoomLength = 32

    /// A nickname: 1–32 characters after trimming, no control or format characters.
    package static func nickname(_ raw: String) -> Result<String, ChatError> {
        let name = raw.trimming(" \t")
        guard !name.isEmpty else { return .failure(.badNickname("it is empty")) }
        guard name.count <= maxNicknameLength else { return .failure(.badNickname("longer than \(maxNicknameLength) characters")) }
        for scalar in name.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned, .privateUse:
                return .failure(.badNickname("it contains control or invisible characters"))
            default:
                continue
            }
        }
        return .success(name)
    }

    /// A room: 1–32 of letters, digits, `-`, `_`, `.`.
    package static func room(_ raw: String) -> Result<String, ChatError> {
        let room = raw.trimming(" \t")
        guard !room.isEmpty else { return .failure(.badRoom("the name is empty")) }
        guard room.count <= maxRoomLength else { return .failure(.badRoom("longer than \(maxRoomLength) characters")) }
        guard room.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) }) else {
            return .failure(.badRoom("use letters, digits, -, _ or ."))
        }
        return .success(room)
    }
}
