import Foundation

/// `N/second`, `N/minute` or `N/hour`: at most `limit` admissions in any window of `windowSeconds`.
public struct RateLimitSpec: Sendable, Hashable, CustomStringConvertible {
    public let limit: Int
    public let windowSeconds: Int

    public init(limit: Int, windowSeconds: Int) {
        self.limit = limit
        self.windowSeconds = windowSeconds
    }

    /// Parses `50/minute`; nil for anything else (zero, negative, unknown unit, spaces inside the number).
    public init?(parsing text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let limit = Int(parts[0]), limit > 0, limit <= 10_000_000 else { return nil }
        let seconds: Int
        switch parts[1].lowercased() {
        case "second", "s", "sec": seconds = 1
        case "minute", "m", "min": seconds = 60
        case "hour", "h": seconds = 3600
        default: return nil
        }
        self.init(limit: limit, windowSeconds: seconds)
    }

    public var description: String {
        switch windowSeconds {
        case 1: return "\(limit)/second"
        case 60: return "\(limit)/minute"
        case 3600: return "\(limit)/hour"
        default: return "\(limit)/\(windowSeconds)s"
        }
    }

    /// Whether this limit admits no more than `other` ever could: no higher average rate, and no larger burst
    /// (its window is no longer, so it cannot save up more than `other` allows in one window).
    public func isWithin(_ other: RateLimitSpec) -> Bool {
        limit * other.windowSeconds <= other.limit * windowSeconds && windowSeconds <= other.windowSeconds
    }
}
