extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (HTTP's optional whitespace).
    package func trimmingASCIISpaces() -> String { trimming(" \t") }

    /// The text without leading and trailing characters of `characters` (one implementation
    /// for the package: headers, command lines, chat input).
    package func trimming(_ characters: String) -> String {
        let drop = Set(characters.unicodeScalars)
        var scalars = Substring(self).unicodeScalars
        while let first = scalars.first, drop.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, drop.contains(last) { scalars.removeLast() }
        return String(scalars)
    }
}
