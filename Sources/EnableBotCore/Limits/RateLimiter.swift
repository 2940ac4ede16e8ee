import Foundation

/// One limit to check: a counter name (`tenant:T123`, `global`) and its `N per window`.
public struct RateLimitKey: Sendable, Hashable {
    public var name: String
    public var spec: RateLimitSpec

    public init(_ name: String, _ spec: RateLimitSpec) {
        self.name = name
        self.spec = spec
    }
}

/// The answer to one admission request.
public enum RateLimitDecision: Sendable, Equatable {
    case admitted
    /// Refused by the limit called `key`; a slot frees up after `retryAfter` seconds.
    case limited(key: String, retryAfter: TimeInterval)

    public var isAdmitted: Bool { self == .admitted }
}

/// Sliding-window limits: a spec of `N` per `W` seconds admits at most `N` events in any `W`-second window
/// (a burst of `N` at once is fine; the `N+1`th waits until the oldest admission is `W` seconds old).
///
/// The in-memory implementation serves one instance; a shared (Redis) implementation must pass the same tests.
public protocol RateLimiter: Sendable {
    /// Admits one event against every key at once: either all keys count it, or none does (a tenant refused
    /// by the global limit does not use up its own allowance).
    func admit(_ keys: [RateLimitKey], at now: Date) async throws -> RateLimitDecision

    /// True for the first call per `key` in any `window` seconds: one "you are rate limited" notice per user and window.
    func claimNotice(_ key: String, window: TimeInterval, at now: Date) async throws -> Bool
}
