import NIOHTTP1
import XCTest

@testable import Duplex

final class StoredRequestHeadTests: XCTestCase {
    func testHeadersSurviveInOrderWithDuplicatesAndEmptyValues() {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "example.com:8080")
        headers.add(name: "Sec-WebSocket-Key", value: "dGhlIHNhbXBsZSBub25jZQ==")
        headers.add(name: "Cookie", value: "a=1")
        headers.add(name: "cookie", value: "b=2")
        headers.add(name: "X-Empty", value: "")
        headers.add(name: "X-Unicode", value: "日本語 ✓")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/chat?room=a%20b", headers: headers)
        let stored = StoredRequestHead(head)
        XCTAssertEqual(stored.head, head)
        XCTAssertEqual(Array(stored.headers.map { $0.name }), ["Host", "Sec-WebSocket-Key", "Cookie", "cookie", "X-Empty", "X-Unicode"])
        XCTAssertEqual(stored.headers["cookie"], ["a=1", "b=2"])
        XCTAssertEqual(stored.headers["x-empty"], [""])
    }

    func testNoHeadersAndOddMethods() {
        let head = HTTPRequestHead(version: .http1_0, method: .RAW(value: "BREW"), uri: "/", headers: [:])
        XCTAssertEqual(StoredRequestHead(head).head, head)
    }

    func testANulInAValueIsKeptExactly() {
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["X-Odd": "a\u{0}b", "Y": "z"])
        XCTAssertEqual(StoredRequestHead(head).head, head)
    }
}
