import Logging

/// An event whose arguments do not fit the type its handler asked for, said in terms a
/// client developer can act on (`expected a number at .age`), never Swift's internals.
public struct SocketIOArgumentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The name of the event whose arguments did not decode.
    public let event: String
    /// What was wrong, e.g. `expected a number at .age`, `missing field "name"`.
    public let detail: String

    public var description: String { "invalid arguments for \"\(event)\": \(detail)" }

    init(event: String, decoding error: Error) {
        self.event = event
        guard let error = error as? DecodingError else {
            detail = "\(error)"
            return
        }
        switch error {
        case .typeMismatch(let type, let context):
            detail = "expected \(Self.kind(of: type)) at \(Self.path(context.codingPath))"
        case .valueNotFound(let type, let context):
            detail = "missing \(Self.kind(of: type)) at \(Self.path(context.codingPath))"
        case .keyNotFound(let key, let context):
            let field = "missing field \"\(key.stringValue)\""
            detail = context.codingPath.isEmpty ? field : "\(field) in \(Self.path(context.codingPath))"
        case .dataCorrupted(let context):
            detail = "invalid value at \(Self.path(context.codingPath))"
        @unknown default:
            detail = "arguments do not match"
        }
    }

    /// `.user.tags[2]`, or `the first argument` for the top level.
    private static func path(_ codingPath: [CodingKey]) -> String {
        guard !codingPath.isEmpty else { return "the first argument" }
        return codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
    }

    private static func kind(of type: Any.Type) -> String {
        switch type {
        case is String.Type, is Substring.Type: "a string"
        case is Bool.Type: "a boolean"
        case is any BinaryInteger.Type, is any BinaryFloatingPoint.Type: "a number"
        default:
            String(describing: type).hasPrefix("Array<") ? "an array" : "an object"
        }
    }
}
