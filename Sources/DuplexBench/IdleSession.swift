import NIOCore

/// Upgrades and stays idle (pings are answered by the handler). With `touch`, it first has
/// one message echoed, so that buffers a server allocates lazily exist when memory is read.
struct IdleSession: BenchSession {
    let touch: EchoTemplate?

    var captureLimit: Int { 0 }

    func opened(_ io: SessionIO) -> Bool { true }

    mutating func start(_ io: SessionIO) {
        guard let touch else { return }
        io.loop.countSent()
        io.write(touch.frame)
    }

    mutating func received(opcode: UInt8, length: Int, head: ByteBuffer, _ io: SessionIO) -> Bool {
        if let touch, length != touch.size { io.loop.badLength += 1 }
        io.loop.countReceived(sentAt: 0, now: 0)
        return false
    }
}
