import Logging
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
    func sendLogged(_ item: Outgoing, _ logged: LoggedBroadcast) async {
        do {
            let sent = try await link.withConnection { connection in
                try await connection.query(
                    "SELECT \(unescaped: RecoveryDatabase.publishFunction)(\(item.channel), \(logged.nsp), \(item.message.jsonText))",
                    logger: logger)
                return true
            }
            if sent != true { logged.notSent() }
        } catch {
            logger.warning("logged broadcast not sent, delivered here without an offset: \(String(reflecting: error))",
                           metadata: ["channel": "\(item.channel)"])
            logged.notSent()
        }
    }
}
