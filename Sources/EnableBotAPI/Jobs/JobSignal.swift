import NIOConcurrencyHelpers

/// Wakes the job worker at once when the ack path has enqueued work in this process, instead of waiting for
/// the next poll. Signals coalesce: many enqueues while the worker is busy make one wake-up.
public final class JobSignal: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init() {
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public func notify() {
        continuation.yield()
    }

    /// The wake-ups; meant for a single consumer (the worker loop).
    var wakeUps: AsyncStream<Void> { stream }

    func finish() {
        continuation.finish()
    }
}
