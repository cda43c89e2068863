import ArgumentParser
import Foundation
import NIOCore
import SocketIO

/// `duplex bench json`: Socket.IO's JSON parser and serializer against Foundation's, on
/// the payloads Socket.IO carries (the reason the project keeps its own: docs/performance.md).
struct BenchJSON: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "json",
        abstract: "Duplex's JSON parser and serializer against Foundation's, on Socket.IO payloads.",
        discussion: """
            Parses each payload from bytes and serializes it back to bytes, with Duplex's JSONValue, \
            with Foundation's JSONSerialization, and with JSONDecoder/JSONEncoder into JSONValue; \
            prints nanoseconds per operation and Foundation's time as a multiple of Duplex's. \
            Run it from a release build.
            """)

    @Option(help: "Seconds per measurement.") var seconds = 1.0

    struct Payload {
        let name: String
        let bytes: [UInt8]
    }

    static func payloads() -> [Payload] {
        let event = #"["chat message",{"user":"Ann","text":"hello, world","room":"général","time":1733000000123}]"#
        let ack = #"[{"ok":true,"count":3,"ids":[101,102,103]}]"#
        var items: [String] = []
        for i in 0..<20 {
            items.append(#"{"id":\#(i),"name":"user \#(i)","score":\#(Double(i) * 1.5),"tags":["a","b"],"online":\#(i % 2 == 0),"bio":null}"#)
        }
        let list = #"["list",[\#(items.joined(separator: ","))]]"#
        let text = String(repeating: #"Ünïcödé \"quoted\" line\n and more text, "#, count: 1600)
        let large = #"["document",{"title":"large","body":"\#(text)"}]"#
        return [
            Payload(name: "event 90 B", bytes: Array(event.utf8)),
            Payload(name: "ack 43 B", bytes: Array(ack.utf8)),
            Payload(name: "list 2 KB", bytes: Array(list.utf8)),
            Payload(name: "text 64 KB", bytes: Array(large.utf8)),
        ]
    }

    func run() throws {
        print("payload      operation   Duplex ns/op   JSONSerialization ns/op (×)   JSONDecoder/Encoder ns/op (×)")
        for payload in Self.payloads() {
            let buffer = ByteBuffer(bytes: payload.bytes)
            let data = Data(payload.bytes)
            let value = try JSONValue(parsing: buffer)
            let object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            let decoder = JSONDecoder()
            let encoder = JSONEncoder()

            let parse = measure { _ = try? JSONValue(parsing: buffer) }
            let parseFoundation = measure { _ = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) }
            let parseCodable = measure { _ = try? decoder.decode(JSONValue.self, from: data) }
            var out = ByteBuffer()
            out.reserveCapacity(payload.bytes.count * 2)
            let write = measure {
                out.clear()
                value.serialize(into: &out)
            }
            let writeFoundation = measure { _ = try? JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed]) }
            let writeCodable = measure { _ = try? encoder.encode(value) }
            line(payload.name, "parse", parse, parseFoundation, parseCodable)
            line(payload.name, "serialize", write, writeFoundation, writeCodable)
        }
    }

    private func line(_ payload: String, _ operation: String, _ duplex: Double, _ foundation: Double, _ codable: Double) {
        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
        let f = String(format: "%.0f (%.1f×)", foundation, foundation / duplex)
        let c = String(format: "%.0f (%.1f×)", codable, codable / duplex)
        print(pad(payload, 13) + pad(operation, 12) + pad(String(format: "%.0f", duplex), 15) + pad(f, 30) + c)
    }

    /// Nanoseconds per call of `body`, over about `seconds`.
    private func measure(_ body: () -> Void) -> Double {
        for _ in 0..<200 { body() }  // warm up
        var iterations = 0
        let start = DispatchTime.now().uptimeNanoseconds
        let budget = UInt64(seconds * 1e9)
        var elapsed: UInt64 = 0
        while elapsed < budget {
            for _ in 0..<64 { body() }
            iterations += 64
            elapsed = DispatchTime.now().uptimeNanoseconds - start
        }
        return Double(elapsed) / Double(iterations)
    }
}
