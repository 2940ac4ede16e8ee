import Foundation
import NIOConcurrencyHelpers

/// A sliding-window log per key, in this process: exact, and cheap enough (one `Double` per admission
/// still inside its window). Suits a single instance; `REDIS_URL` deployments need a shared limiter.
public final class InMemoryRateLimiter: RateLimiter {
    private struct State {
        /// Admission times per key, oldest first; `head` skips the expired ones without shifting the array.
        var logs: [String: Log] = [:]
        var notices: [String: Date] = [:]
        var operations = 0
    }

    private struct Log {
        var times: [TimeInterval] = []
        var head = 0
        var window: TimeInterval = 0

        var count: Int { times.count - head }

        mutating func expire(before cutoff: TimeInterval) {
            while head < times.count, times[head] <= cutoff { head += 1 }
            if head > 64, head * 2 > times.count {
                times.removeFirst(head)
                head = 0
            }
        }
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    public func admit(_ keys: [RateLimitKey], at now: Date) async throws -> RateLimitDecision {
        admitNow(keys, at: now)
    }

    /// The synchronous core of `admit`, for callers that are not async.
    public func admitNow(_ keys: [RateLimitKey], at now: Date) -> RateLimitDecision {
        let t = now.timeIntervalSince1970
        return state.withLockedValue { state in
            state.operations += 1
            if state.operations % 10_000 == 0 { Self.sweep(&state, at: t) }
            for key in keys {
                var log = state.logs[key.name] ?? Log()
                log.window = Double(key.spec.windowSeconds)
                // An admission at time a counts in windows (t - W, t]; it expires once a <= t - W.
                log.expire(before: t - log.window)
                state.logs[key.name] = log
                if log.count >= key.spec.limit {
                    let oldest = log.times[log.head + log.count - key.spec.limit]
                    return .limited(key: key.name, retryAfter: max(0, oldest + log.window - t))
                }
            }
            for key in keys { state.logs[key.name]!.times.append(t) }
            return .admitted
        }
    }

    public func claimNotice(_ key: String, window: TimeInterval, at now: Date) async throws -> Bool {
        state.withLockedValue { state in
            if let last = state.notices[key], now.timeIntervalSince(last) < window { return false }
            state.notices[key] = now
            return true
        }
    }

    /// Drops keys with nothing left in their window, so idle tenants and users do not accumulate.
    private static func sweep(_ state: inout State, at t: TimeInterval) {
        state.logs = state.logs.filter { _, log in
            guard let last = log.times.last else { return false }
            return last > t - log.window
        }
        state.notices = state.notices.filter { t - $0.value.timeIntervalSince1970 < 3600 }
    }
}
