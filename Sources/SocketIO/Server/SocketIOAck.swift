import NIOCore
import Synchronization

/// Why an acknowledgement did not come.
public enum SocketIOAckError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No answer within the timeout (the reference's "operation has timed out"); for a
    /// broadcast, with the answers that came.
    case timeout(responses: [[JSONValue]])
    /// The socket disconnected first.
    case disconnected

    public var description: String {
        switch self {
        case .timeout: "operation has timed out"
        case .disconnected: "socket has been disconnected"
        }
    }
}

/// The acknowledgement callback of an event: call it once with the answer.
public struct SocketIOAck: Sendable {
    private let responder: Responder

    /// One object per acknowledgement (it is made for every event that asks for one).
    final class Responder: Sendable {
        let socket: SocketIOSocket
        let ackID: Int
        let sent = Atomic<Bool>(false)
        init(socket: SocketIOSocket, ackID: Int) {
            self.socket = socket
            self.ackID = ackID
        }
    }

    init(socket: SocketIOSocket, ackID: Int) {
        responder = Responder(socket: socket, ackID: ackID)
    }

    private func sendOnce(_ arguments: [JSONValue]) {
        guard !responder.sent.exchange(true, ordering: .relaxed) else { return }
        responder.socket.answer(ackID: responder.ackID, with: arguments)
    }

    /// Answers with these arguments (only the first answer is sent).
    public func callAsFunction(_ arguments: JSONValue...) {
        sendOnce(arguments)
    }

    /// Answers with these arguments (only the first answer is sent).
    public func reply(_ arguments: [JSONValue]) {
        sendOnce(arguments)
    }

    /// Answers with one `Encodable` value (converted through `JSONEncoder`); throws, sending
    /// nothing, when it does not encode.
    public func reply(encoding value: some Encodable) throws {
        sendOnce([try JSONValue(encoding: value)])
    }
}
