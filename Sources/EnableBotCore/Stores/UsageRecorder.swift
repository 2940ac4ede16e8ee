import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Counts usage in memory and writes it once a second, one upsert per tenant and day, instead of one write per
/// counter per answered event. A `Service`: the last counts are written on shutdown. A crash loses at most the
/// last second's counts (they are statistics, not billing).
public final class UsageRecorder: Service, Sendable {
    private let counters: UsageCounters
    private let interval: Duration
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let pending = NIOLockedValueBox<[UsageKey: Usage]>([:])

    public init(counters: UsageCounters, interval: Duration = .seconds(1), now: @escaping @Sendable () -> Date = Date.init, logger: Logger) {
        self.counters = counters
        self.interval = interval
        self.now = now
        self.logger = logger
    }

    public func record(tenantID: String, _ counter: UsageCounters.Counter, by amount: Int64 = 1) {
        let key = UsageKey(tenantID: tenantID, day: UsageCounters.day(now()))
        pending.withLockedValue { pending in
            var usage = pending[key] ?? Usage()
            switch counter {
            case .events: usage.events += amount
            case .llmCalls: usage.llmCalls += amount
            case .rateLimited: usage.rateLimited += amount
            case .errors: usage.errors += amount
            }
            pending[key] = usage
        }
    }

    /// Writes what has been counted so far; on failure the counts are kept for the next try.
    public func flush() async {
        let batch = pending.withLockedValue { pending -> [UsageKey: Usage] in
            defer { pending = [:] }
            return pending
        }
        guard !batch.isEmpty else { return }
        do {
            try await counters.add(batch)
        } catch {
            logger.warning("cannot write usage counters yet", metadata: ["error": "\(error)"])
            pending.withLockedValue { pending in
                for (key, usage) in batch {
                    var merged = pending[key] ?? Usage()
                    merged.events += usage.events
                    merged.llmCalls += usage.llmCalls
                    merged.rateLimited += usage.rateLimited
                    merged.errors += usage.errors
                    pending[key] = merged
                }
            }
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await flush()
            }
        }
        await flush()
    }
}
