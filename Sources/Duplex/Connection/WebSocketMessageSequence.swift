import NIOCore

/// The messages of one connection as an `AsyncSequence`, with backpressure: when the
/// consumer falls behind, the connection stops reading from the socket.
public struct WebSocketMessageSequence: AsyncSequence, Sendable {
    public typealias Element = WebSocketMessage
    typealias Producer = NIOThrowingAsyncSequenceProducer<
        WebSocketMessage, Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, MessageStream.Delegate
    >
    let producer: Producer

    /// Iterates over the messages of one connection; there is one consumer per sequence.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Producer.AsyncIterator
        public mutating func next() async throws -> WebSocketMessage? { try await base.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: producer.makeAsyncIterator()) }
}

/// The producing side of a connection's message sequence.
struct MessageStream: Sendable {
    struct Delegate: NIOAsyncSequenceProducerDelegate {
        /// Resumes reading from the socket (called when the consumer caught up).
        let resume: @Sendable () -> Void
        func produceMore() { resume() }
        func didTerminate() {}
    }

    let source: WebSocketMessageSequence.Producer.Source
    let sequence: WebSocketMessageSequence

    init(resume: @escaping @Sendable () -> Void) {
        let made = WebSocketMessageSequence.Producer.makeSequence(
            backPressureStrategy: .init(lowWatermark: 4, highWatermark: 64),
            finishOnDeinit: false,
            delegate: Delegate(resume: resume)
        )
        source = made.source
        sequence = WebSocketMessageSequence(producer: made.sequence)
    }
}
