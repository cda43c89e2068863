#if TLS
import Foundation
import NIOCore
import NIOSSL
import XCTest

@testable import Duplex

/// wss:// with a throwaway self-signed certificate made by the openssl CLI for the test.
final class TLSTests: XCTestCase {
    private var directory: URL!
    private var certificate: String { directory.appendingPathComponent("cert.pem").path }
    private var key: String { directory.appendingPathComponent("key.pem").path }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("duplex-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                             "-nodes", "-days", "1", "-subj", "/CN=localhost",
                             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                             "-keyout", key, "-out", certificate]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try XCTSkipIf(openssl.terminationStatus != 0, "the openssl CLI could not make a certificate")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func trustingConfiguration() -> WebSocket.Configuration {
        var configuration = clientConfiguration()
        configuration.tls.trustRoots = .file(certificate)
        return configuration
    }

    func testSecureEchoByIPAndByName() async throws {
        let (server, port) = try await startEchoServer({ configuration in
            try! configuration.useTLS(certificateChainFile: certificate, privateKeyFile: key)
            configuration.webSocket.compression = .shared
        })
        for host in ["127.0.0.1", "localhost"] {
            let socket = try await WebSocket.connect("wss://\(host):\(port)/secure", configuration: trustingConfiguration())
            XCTAssertTrue(socket.extensions.hasPrefix("permessage-deflate"))
            let text = String(repeating: "secret ", count: 1000)
            socket.send(text)
            var iterator = socket.messages.makeAsyncIterator()
            let reply = try await iterator.next()
            XCTAssertEqual(reply, .text(text))
            socket.close()
            let event = await socket.waitUntilClosed()
            XCTAssertTrue(event.wasClean, "\(host): \(event)")
        }
        await server.close()
    }

    func testUntrustedCertificateIsATLSError() async throws {
        let (server, port) = try await startEchoServer({ configuration in
            try! configuration.useTLS(certificateChainFile: certificate, privateKeyFile: key)
        })
        do {
            _ = try await WebSocket.connect("wss://127.0.0.1:\(port)/", configuration: clientConfiguration())
            XCTFail("connected with an untrusted certificate")
        } catch {
            guard case .tls = error as? WebSocketClientError else { return XCTFail("\(error)") }
        }
        // The wrong name fails too, even with the certificate trusted.
        do {
            _ = try await WebSocket.connect("wss://127.0.0.2:\(port)/", configuration: trustingConfiguration())
            XCTFail("connected to a host the certificate does not name")
        } catch {
            XCTAssertNotNil(error as? WebSocketClientError, "\(error)")
        }
        await server.close()
    }

    func testPlainClientAgainstTLSServerFails() async throws {
        let (server, port) = try await startEchoServer({ configuration in
            try! configuration.useTLS(certificateChainFile: certificate, privateKeyFile: key)
        })
        do {
            _ = try await WebSocket.connect("ws://127.0.0.1:\(port)/", configuration: clientConfiguration())
            XCTFail("a plain handshake succeeded against a TLS server")
        } catch {
            XCTAssertNotNil(error as? WebSocketClientError, "\(error)")
        }
        await server.close()
    }

    func testMissingCertificateFileThrows() {
        var configuration = WebSocketServer.Configuration()
        XCTAssertThrowsError(try configuration.useTLS(certificateChainFile: "/nonexistent.pem", privateKeyFile: key))
    }
}
#endif
