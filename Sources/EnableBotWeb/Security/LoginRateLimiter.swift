import Foundation

/// Operator login attempts per client address, in a sliding window: at most `limit` attempts in any
/// `window`. In memory, so the limit holds per web instance (N replicas admit up to N × limit).
public actor LoginRateLimiter {
    private let limit: Int
    private let window: TimeInterval
    private let now: @Sendable () -> Date
    private var attempts: [String: [Date]] = [:]

    public init(limit: Int = 5, window: TimeInterval = 300, now: @escaping @Sendable () -> Date = Date.init) {
        self.limit = limit
        self.window = window
        self.now = now
    }

    /// Records an attempt from `client`; returns nil when admitted, else the seconds until one is allowed again.
    public func admit(_ client: String) -> Int? {
        let at = now()
        var recent = (attempts[client] ?? []).filter { at.timeIntervalSince($0) < window }
        if attempts.count > 10_000 { prune(at) }
        guard recent.count < limit else {
            attempts[client] = recent
            let oldest = recent.min() ?? at
            return max(1, Int((window - at.timeIntervalSince(oldest)).rounded(.up)))
        }
        recent.append(at)
        attempts[client] = recent
        return nil
    }

    /// Forgets the failures of a client that just signed in.
    public func reset(_ client: String) {
        attempts[client] = nil
    }

    /// Drops clients with nothing in the window, so a scan of many addresses cannot grow memory without bound.
    private func prune(_ at: Date) {
        attempts = attempts.filter { _, times in times.contains { at.timeIntervalSince($0) < window } }
    }
}
