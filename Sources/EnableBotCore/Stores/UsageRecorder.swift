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
    private struct Pending {
        /// Counted, not yet written.
        var counts: [UsageKey: Usage] = [:]
        /// The batch being written right now.
        var writing: [UsageKey: Usage] = [:]
        /// Odd while a batch is being written: a read of the database then may or may not include it.
        var epoch = 0
    }

    private let pending = NIOLockedValueBox(Pending())

    public init(counters: UsageCounters, interval: Duration = .seconds(1), now: @escaping @Sendable () -> Date = Date.init, logger: Logger) {
        self.counters = counters
        self.interval = interval
        self.now = now
        self.logger = logger
    }

    public func record(tenantID: String, _ counter: UsageCounters.Counter, by amount: Int64 = 1) {
        let key = UsageKey(tenantID: tenantID, day: UsageCounters.day(now()))
        pending.withLockedValue { pending in
            pending.counts[key, default: Usage()].add(counter, amount)
        }
    }

    /// A tenant's model tokens this UTC month: what is written plus what this process has counted and not yet written,
    /// exactly (so a budget holds exactly within one process; other replicas' counts show within a second). A read of
    /// the database that overlaps a flush could see its batch or not, so it waits the flush out and reads again.
    public func monthTokens(tenantID: String) async throws -> Int64 {
        let today = UsageCounters.day(now())
        let month = String(today.prefix(8))
        while true {
            let (epoch, unwritten) = pending.withLockedValue { pending -> (Int, Int64) in
                (pending.epoch, pending.counts.reduce(0) { sum, entry in
                    entry.key.tenantID == tenantID && entry.key.day.hasPrefix(month) ? sum + entry.value.tokens : sum
                })
            }
            if epoch % 2 == 1 {
                try await Task.sleep(for: .milliseconds(5))
                continue
            }
            let written = try await counters.monthTokens(tenantID: tenantID, day: today)
            if pending.withLockedValue({ $0.epoch }) == epoch { return written + unwritten }
        }
    }

    /// Writes what has been counted so far; on failure the counts are kept for the next try.
    public func flush() async {
        let batch = pending.withLockedValue { pending -> [UsageKey: Usage] in
            // One flush at a time (`run` is the only caller); a second one meanwhile leaves the counts for later.
            guard pending.writing.isEmpty, !pending.counts.isEmpty else { return [:] }
            pending.epoch += 1
            pending.writing = pending.counts
            pending.counts = [:]
            return pending.writing
        }
        guard !batch.isEmpty else { return }
        do {
            try await counters.add(batch)
            pending.withLockedValue { pending in
                pending.writing = [:]
                pending.epoch += 1
            }
        } catch {
            logger.warning("cannot write usage counters yet", metadata: ["error": "\(error)"])
            pending.withLockedValue { pending in
                for (key, usage) in batch { pending.counts[key, default: Usage()].add(usage) }
                pending.writing = [:]
                pending.epoch += 1
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
