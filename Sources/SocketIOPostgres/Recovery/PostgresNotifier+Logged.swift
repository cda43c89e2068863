import Logging
import NIOCore
import PostgresNIO

/// A BROADCAST logged for connection state recovery: PostgreSQL gives it its offset, and
/// the sender delivers it locally when its own notification comes back (in offset order,
/// like every other node). When the statement fails, `notSent` delivers it at once instead,
/// without an offset.
struct LoggedBroadcast: Sendable {
    let nsp: String
    let notSent: @Sendable () -> Void
}

extension PostgresNotifier {
    /// One statement: the function locks, inserts into the log and NOTIFYs with the offset.
    /// A binary or large broadcast goes into the row as MessagePack and the NOTIFY only
    /// points at it (as with attachments); same lock, so the same order.
    func sendLogged(_ item: Outgoing, _ logged: LoggedBroadcast) async {
        let text = item.message.jsonText
        // Room for the offset the function adds.
        let packed = item.message.needsAttachment(jsonByteCount: text.utf8.count + 32, threshold: options.payloadThreshold)
        do {
            let sent = try await link.withConnection { connection in
                if packed {
                    try await connection.query(
                        "SELECT \(unescaped: RecoveryDatabase.publishPackedFunction)(\(item.channel), \(logged.nsp), \(item.message.uid), \(item.message.messagePack))",
                        logger: logger)
                } else {
                    try await connection.query(
                        "SELECT \(unescaped: RecoveryDatabase.publishFunction)(\(item.channel), \(logged.nsp), \(text))",
                        logger: logger)
                }
                return true
            }
            if sent != true { logged.notSent() }
        } catch {
            logger.warning("logged broadcast not sent, delivered here without an offset: \(String(reflecting: error))",
                           metadata: ["channel": "\(item.channel)"])
            logged.notSent()
        }
    }

    /// The logged broadcast at `offset` that a notification points at, with its offset.
    func readLogged(_ offset: Int64) async throws -> ClusterMessage? {
        guard let connection = await link.currentConnection() else {
            throw ClusterMessageDecodingError(description: "no connection to read logged broadcast \(offset)")
        }
        let rows = try await connection.query(
            "SELECT payload FROM \(unescaped: RecoveryDatabase.packetsTable) WHERE id = \(offset) AND payload IS NOT NULL",
            logger: logger)
        var payload: ByteBuffer?
        for try await row in rows { payload = try row.decode(ByteBuffer.self) }
        guard let payload else {
            throw ClusterMessageDecodingError(description: "logged broadcast \(offset) not found (cleaned up already?)")
        }
        var message = try ClusterMessage(messagePack: payload)
        message.offset = String(offset)
        return message
    }
}
