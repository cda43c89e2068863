import Duplex
import PostgresNIO

/// Why a PostgreSQL URL was refused.
public struct PostgresURLError: Error, CustomStringConvertible {
    public let description: String
}

extension PostgresConnection.Configuration {
    /// A configuration from `postgres://user[:password]@host[:port]/database`, or with
    /// `?host=/socket/dir` a Unix socket (`<dir>/.s.PGSQL.<port>`). TLS off; `sslmode=require`
    /// is refused rather than silently ignored.
    public init(url: String) throws {
        guard let schemeEnd = url.range(of: "://"),
              ["postgres", "postgresql"].contains(url[..<schemeEnd.lowerBound]) else {
            throw PostgresURLError(description: "not a postgres:// URL: \(url)")
        }
        let (rest, query) = URIQuery.split(String(url[schemeEnd.upperBound...]))
        if let mode = query["sslmode"], mode != "disable", mode != "prefer", mode != "allow" {
            throw PostgresURLError(description: "sslmode=\(mode) is not supported here")
        }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let database = slash < rest.endIndex ? URIQuery.percentDecode(rest[rest.index(after: slash)...]) : nil
        var user = "postgres"
        var password: String?
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let credentials = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = URIQuery.percentDecode(credentials[..<colon])
                password = URIQuery.percentDecode(credentials[credentials.index(after: colon)...])
            } else {
                user = URIQuery.percentDecode(credentials)
            }
        }
        var host = String(hostPort)
        var port = 5432
        if let colon = hostPort.lastIndex(of: ":") {
            guard let number = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(number) else {
                throw PostgresURLError(description: "bad port in \(url)")
            }
            port = number
            host = String(hostPort[..<colon])
        }
        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
            self.init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password,
                      database: database?.isEmpty == false ? database : nil)
        } else {
            self.init(host: host.isEmpty ? "localhost" : host, port: port, username: user, password: password,
                      database: database?.isEmpty == false ? database : nil, tls: .disable)
        }
    }
}
