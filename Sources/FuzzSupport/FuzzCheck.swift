#if canImport(Glibc)
import Glibc
#endif

/// A property every input must keep. A broken one aborts, which libFuzzer reports as a
/// crash and saves the input (a Swift `precondition` would do the same, without the message
/// on stderr in release builds).
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    guard !condition() else { return }
    var report = "fuzz check failed at \(file):\(line): \(message())\n"
    report.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    abort()
}
