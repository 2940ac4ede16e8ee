import Foundation
import NIOConcurrencyHelpers

public struct TimeoutError: Error, CustomStringConvertible {
    public var description: String { "timed out" }
}

/// Runs `operation`, failing with `TimeoutError` once `timeout` passes, even when the operation is stuck in a
/// call that ignores cancellation (a blocking connect): the caller is released and the operation is cancelled.
public func withTimeout<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = NIOLockedValueBox<CheckedContinuation<T, any Error>?>(nil)
    let finish: @Sendable (Result<T, any Error>) -> Bool = { result in
        guard let continuation = outcome.withLockedValue({ box in defer { box = nil }; return box }) else { return false }
        continuation.resume(with: result)
        return true
    }
    return try await withCheckedThrowingContinuation { continuation in
        outcome.withLockedValue { $0 = continuation }
        let work = Task { _ = finish(await Result(catching: operation)) }
        Task {
            try? await Task.sleep(for: timeout)
            if finish(.failure(TimeoutError())) { work.cancel() }
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
