import ArgumentParser
import Dispatch
import Duplex
import Logging
import NIOCore
import NIOHTTP1
#if TLS
import NIOSSL
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `duplex connect URL`: an interactive terminal client, like wscat. Incoming messages are
/// printed on stdout (`< text`), each line typed on stdin is sent as a text message, and
/// status lines (connected, disconnected, errors) go to stderr.
struct ConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Interactive WebSocket client: prints incoming messages, sends each line typed.",
        discussion: """
        Incoming text is printed as "< text", binary as "< [binary N bytes] hex...". Lines read from \
        stdin are sent as text messages; at the end of input, replies get --wait seconds, then the connection \
        closes (1000). With --execute the \
        messages are sent, replies are printed for --wait seconds, then the connection closes. \
        Exit status: 0 after the connection closed, 1 when the handshake failed (the reason on stderr), \
        2 when the connection ended abnormally (no close frame).
        """
    )

    @Argument(help: "ws:// or wss:// URL.") var url: String
    @Option(name: [.customShort("H"), .long], help: "Extra request header \"Name: value\" (repeatable).") var header: [String] = []
    @Option(name: [.customShort("p"), .customLong("protocol")], help: "Subprotocol to offer (repeatable).") var protocols: [String] = []
    @Flag(inversion: .prefixedNo, help: "Offer permessage-deflate (on by default).") var deflate = true
    @Option(name: [.customShort("x"), .long], help: "Send this text message, print replies for --wait seconds, exit (repeatable).")
    var execute: [String] = []
    @Option(name: [.customShort("w"), .long], help: "Seconds to wait for replies after --execute or the end of stdin.") var wait: Double = 2
    @Flag(help: "Echo every received message back (for interoperability tests); runs until the server closes.")
    var echo = false
    @Option(help: "Seconds allowed for the opening handshake.") var connectTimeout: Double = 10
    @Option(help: "PEM file of certificates to trust for wss:// (instead of the system's).") var caFile: String?
    @Flag(help: "Do not verify the server's TLS certificate.") var insecure = false
    @Option(help: "Largest message accepted, in bytes.") var maxMessageSize = 64 * 1024 * 1024
    @Flag(help: "Print close codes and pings on stderr in detail.") var verbose = false

    func validate() throws {
        for line in header where !line.contains(":") {
            throw ValidationError("--header needs \"Name: value\", got \"\(line)\"")
        }
        guard wait >= 0 else { throw ValidationError("--wait must not be negative") }
        #if !TLS
        if caFile != nil || insecure { throw ValidationError(BuildFeatures.tlsMissing) }
        #endif
    }

    func run() async throws {
        var configuration = WebSocket.Configuration()
        configuration.webSocket.compression = deflate ? .shared : nil
        configuration.webSocket.maxMessageSize = maxMessageSize
        configuration.connectTimeout = .nanoseconds(Int64(connectTimeout * 1e9))
        #if TLS
        if let caFile { configuration.tls.trustRoots = .file(caFile) }
        if insecure { configuration.tls.certificateVerification = .none }
        #endif
        var logger = Logger(label: "duplex.connect")
        logger.logLevel = verbose ? .debug : .warning
        configuration.logger = logger

        var headers = HTTPHeaders()
        for line in header {
            let colon = line.firstIndex(of: ":")!
            headers.add(name: line[..<colon].trimmingASCIISpaces(), value: line[line.index(after: colon)...].trimmingASCIISpaces())
        }

        let socket: WebSocket
        do {
            socket = try WebSocket(url: url, protocols: protocols, headers: headers, configuration: configuration)
        } catch {
            Output.error("error: \(error)")
            throw ExitCode(1)
        }
        let echo = self.echo
        let verbose = self.verbose
        socket.onMessage { message in
            Output.message(message)
            if echo {
                switch message {
                case .text(let text): socket.send(text)
                case .binary(let data): socket.send(data)
                }
            }
        }
        socket.onPing { _ in if verbose { Output.error("(ping)") } }
        socket.onError { error in
            if socket.readyState != .connecting && !(error is WebSocketClientError) { Output.error("error: \(error)") }
        }

        do {
            try await socket.waitUntilOpen()
        } catch {
            Output.error("error: \(error)")
            throw ExitCode(1)
        }
        var details = ""
        if !socket.protocol.isEmpty { details += " protocol: \(socket.protocol)" }
        if !socket.extensions.isEmpty { details += " extensions: \(socket.extensions)" }
        Output.error("Connected to \(socket.target)\(details.isEmpty ? "" : " (\(details.dropFirst()))")" + (execute.isEmpty && !echo ? " (press CTRL+C to quit)" : ""))

        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        signal(SIGINT, SIG_IGN)
        interrupt.setEventHandler { socket.close(code: .normalClosure, reason: "") }
        interrupt.resume()
        defer { interrupt.cancel() }

        if !execute.isEmpty {
            for message in execute { socket.send(message) }
            let waitTime = self.wait
            Task {
                try? await Task.sleep(nanoseconds: UInt64(waitTime * 1e9))
                socket.close()
            }
        } else if !echo {
            // stdin is read on its own thread: readLine blocks.
            // At the end of input, replies still on their way get --wait seconds.
            let reader = DispatchQueue(label: "duplex.connect.stdin")
            let waitTime = self.wait
            reader.async {
                while let line = readLine(strippingNewline: true) {
                    guard socket.readyState == .open else { return }
                    socket.send(line)
                }
                reader.asyncAfter(deadline: .now() + waitTime) { socket.close() }
            }
        }

        let event = await socket.waitUntilClosed()
        Output.error("Disconnected (code: \(event.code.rawValue), reason: \"\(event.reason)\")\(event.wasClean ? "" : " (unclean)")")
        if event.code == .abnormalClosure { throw ExitCode(2) }
    }
}

/// Line output that reaches a pipe at once (stdout is block-buffered when not a terminal).
enum Output {
    static func message(_ message: WebSocketMessage) {
        switch message {
        case .text(let text):
            write("< " + text + "\n", to: 1)
        case .binary(let data):
            let shown = data.readableBytesView.prefix(64).map { byte in
                let hex = String(byte, radix: 16)
                return byte < 16 ? "0" + hex : hex
            }.joined()
            write("< [binary \(data.readableBytes) bytes] \(shown)\(data.readableBytes > 64 ? "..." : "")\n", to: 1)
        }
    }

    static func error(_ line: String) {
        write(line + "\n", to: 2)
    }

    /// Unbuffered: straight to the file descriptor, whole lines at once.
    private static func write(_ text: String, to fd: Int32) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                #if canImport(Glibc)
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                #else
                let n = Darwin.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                #endif
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }
}

