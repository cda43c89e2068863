import Foundation
import XCTest

/// `duplex bench` as a process: a clear message and a non-zero exit when the server is down.
final class CommandLineTests: XCTestCase {
    private func duplexBinary() throws -> URL {
        // The test bundle sits next to the package's executables in the build folder.
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if folder.pathExtension == "xctest" { folder.deleteLastPathComponent() }
        for candidate in [folder, folder.deletingLastPathComponent()] {
            let binary = candidate.appendingPathComponent("duplex")
            if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
        }
        throw XCTSkip("no duplex executable next to the tests (\(folder.path))")
    }

    private func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = try duplexBinary()
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    private func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func testServerDownExitsNonZero() throws {
        let port = try closedPort()
        for scenario in [["echo"], ["broadcast"], ["connect", "-c", "3"], ["socketio"]] {
            let result = try run(["bench"] + scenario + ["--port", "\(port)", "--duration", "0.2", "--warmup", "0", "--quiet"])
            XCTAssertEqual(result.status, 2, "\(scenario): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("cannot connect"), result.stderr)
            XCTAssertTrue(result.stderr.contains("refused"), result.stderr)
        }
    }

    func testRemoteTargetIsRefused() throws {
        let result = try run(["bench", "echo", "--host", "192.0.2.1", "--port", "80", "--quiet"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("loopback"), result.stderr)
    }
}
