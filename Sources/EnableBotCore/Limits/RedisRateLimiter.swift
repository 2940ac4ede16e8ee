import Foundation

/// The sliding-window limiter shared by every instance through Redis: exact like `InMemoryRateLimiter`, so
/// `N/minute` admits at most N events in any 60-second window across all instances together.
///
/// Each key is a sorted set of admission times (ms), one member per admitted event. One Lua script checks and
/// updates every key of a request atomically, so concurrent instances can never both take the last slot, and a
/// request refused by one key counts against none.
///
/// Time is the caller's (`at:`), not Redis's `TIME`: the limiter is then tested exactly with an injected clock,
/// like the in-memory one, and the two cannot drift apart. The price is that instances must agree on the time:
/// run them with NTP-synced clocks (a skew of δ lets a window admit events up to δ early). All keys of one
/// request go to one Redis, so a Redis Cluster would need them in one hash slot; we target a single Redis
/// (or a primary with replicas).
public struct RedisRateLimiter: RateLimiter {
    /// Where production keys live: `enablebot:rl:log:tenant:T123`, `enablebot:rl:claim:notice:T123:U456`.
    public static let defaultKeyPrefix = "enablebot:rl:"

    private let client: RedisClient
    private let keyPrefix: String

    /// - Parameter keyPrefix: tests give each case its own, so cases running in parallel never share a counter.
    public init(client: RedisClient, keyPrefix: String = RedisRateLimiter.defaultKeyPrefix) {
        self.client = client
        self.keyPrefix = keyPrefix
    }

    /// Throws a `RedisError` when Redis is unreachable or slow; the caller decides (the API falls back to a
    /// local limiter, see `FallbackRateLimiter`).
    public func admit(_ keys: [RateLimitKey], at now: Date) async throws -> RateLimitDecision {
        guard !keys.isEmpty else { return .admitted }
        let t = Self.milliseconds(now)
        // The member must be unique: two events in the same millisecond are two admissions.
        var arguments = [String(t), "\(t):" + String(UInt64.random(in: .min ... .max), radix: 36)]
        for key in keys {
            arguments += [String(key.spec.limit), String(Int64(key.spec.windowSeconds) * 1000)]
        }
        let reply = try await client.run(Self.admitScript, keys: keys.map { keyPrefix + "log:" + $0.name }, arguments: arguments)
        guard let values = reply.array, values.count == 2, let index = values[0].integer, let wait = values[1].integer,
              (0...keys.count).contains(index) else {
            throw RedisError(.unexpectedReply, "the rate limit script answered \(reply)")
        }
        if index == 0 { return .admitted }
        return .limited(key: keys[index - 1].name, retryAfter: Double(max(0, wait)) / 1000)
    }

    /// True for the first claim of `key` in any `window` seconds of the caller's clock. The Redis key also
    /// expires after `window` (Redis's clock) so old claims do not accumulate.
    public func claimNotice(_ key: String, window: TimeInterval, at now: Date) async throws -> Bool {
        let windowMS = max(1, Int64((window * 1000).rounded()))
        let reply = try await client.run(
            Self.claimScript, keys: [keyPrefix + "claim:" + key], arguments: [String(Self.milliseconds(now)), String(windowMS)])
        guard let claimed = reply.integer else { throw RedisError(.unexpectedReply, "the notice script answered \(reply)") }
        return claimed == 1
    }

    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// KEYS: the logs. ARGV: now, a unique member, then limit and window (ms) per key.
    /// Returns {0, 0} when admitted (and recorded in every log), or {i, ms} when key i is full: ms until enough
    /// of its entries leave the window to free one slot.
    /// An entry at time a counts in windows (t - W, t]: it is gone once a <= t - W, as in the in-memory limiter.
    static let admitScript = RedisScript("""
        local now = tonumber(ARGV[1])
        for i = 1, #KEYS do
          local limit = tonumber(ARGV[1 + 2 * i])
          local window = tonumber(ARGV[2 + 2 * i])
          redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
          local count = redis.call('ZCARD', KEYS[i])
          if count >= limit then
            if limit <= 0 then return {i, window} end
            local entry = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
            return {i, tonumber(entry[2]) + window - now}
          end
        end
        for i = 1, #KEYS do
          redis.call('ZADD', KEYS[i], now, ARGV[2])
          redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 + 2 * i]))
        end
        return {0, 0}
        """)

    /// KEYS: the claim. ARGV: now, window (ms). Returns 1 and records `now` when no claim is `window` young.
    static let claimScript = RedisScript("""
        local now = tonumber(ARGV[1])
        local window = tonumber(ARGV[2])
        local last = redis.call('GET', KEYS[1])
        if last and now - tonumber(last) < window then return 0 end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', window)
        return 1
        """)
}
