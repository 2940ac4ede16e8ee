import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers

/// Keeps answering when the shared limiter fails (Redis down or slow): the event is decided by a limiter in
/// this process instead, with a warning and `rate_limiter_errors_total` counted.
///
/// Why not fail closed: refusing every event while Redis is down silences the bot for all tenants. Why not admit
/// everything: the limits exist to cap model spend, and a per-instance log still caps it at N per instance.
public final class FallbackRateLimiter: RateLimiter {
    private let primary: any RateLimiter
    private let fallback: InMemoryRateLimiter
    private let logger: Logger
    /// When the last warning was logged: one line per `warningInterval`, not one per event during an outage.
    private let lastWarning = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
    private let warningInterval: Duration

    public init(primary: any RateLimiter, fallback: InMemoryRateLimiter = InMemoryRateLimiter(), logger: Logger,
                warningInterval: Duration = .seconds(10)) {
        self.primary = primary
        self.fallback = fallback
        self.logger = logger
        self.warningInterval = warningInterval
    }

    public func admit(_ keys: [RateLimitKey], at now: Date) async throws -> RateLimitDecision {
        do {
            return try await primary.admit(keys, at: now)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            failed(error, operation: "admit")
            return fallback.admitNow(keys, at: now)
        }
    }

    public func claimNotice(_ key: String, window: TimeInterval, at now: Date) async throws -> Bool {
        do {
            return try await primary.claimNotice(key, window: window, at: now)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            failed(error, operation: "claim_notice")
            return try await fallback.claimNotice(key, window: window, at: now)
        }
    }

    private func failed(_ error: any Error, operation: String) {
        Counter(label: "rate_limiter_errors_total", dimensions: [("operation", operation)]).increment()
        let now = ContinuousClock.now
        let warn = lastWarning.withLockedValue { last in
            if let last, now - last < warningInterval { return false }
            last = now
            return true
        }
        if warn {
            logger.warning("shared rate limiter failed; deciding with this instance's own limits",
                           metadata: ["error": "\(error)", "operation": "\(operation)"])
        }
    }
}

extension Backends {
    /// The deployment's limiter: shared through Redis when `REDIS_URL` is set (this process's own limits while Redis
    /// fails), else this process's own.
    public func makeRateLimiter(logger: Logger) -> any RateLimiter {
        redis.map { FallbackRateLimiter(primary: RedisRateLimiter(client: $0), logger: logger) } ?? InMemoryRateLimiter()
    }
}
