import Foundation

/// How long what is kept for: chat memory (as `enablebot retention run` has it) and the bookkeeping of the ack path.
public struct RetentionPolicy: Sendable, Equatable {
    /// Days a thread's turns stay available to the model.
    public var memoryDays = 30
    /// Days archived turns are kept; 0 deletes expired turns instead of archiving them.
    public var archiveDays = 90
    /// Slack retries a delivery for about an hour; a day of event ids is plenty for deduplication.
    public var processedEventsAge: TimeInterval = 86_400
    /// Finished jobs are kept a week for looking into.
    public var doneJobsAge: TimeInterval = 7 * 86_400
    /// Rows per statement: small enough that no delete holds its locks (or SQLite's one writer) for long.
    public var batchSize = Retention.defaultBatchSize

    public init() {}
}

/// What one retention run removed.
public struct RetentionReport: Sendable, Equatable {
    public var memoryExpired = 0
    public var archivePurged = 0
    public var processedEvents = 0
    public var doneJobs = 0
    public var oauthStates = 0
    /// Assistant threads untouched for as long as chat memory is kept.
    public var assistantThreads = 0
    /// false when another replica held the retention lock (this run stopped there; that replica carries on).
    public var complete = true

    public init() {}
}

/// Archives and deletes what is past its retention, in small batches, each its own transaction. On PostgreSQL every
/// batch first takes a transaction-scoped advisory lock without waiting, so one replica at a time does this work: a
/// replica that finds it taken stops its run.
public struct Retention: Sendable {
    public static let defaultBatchSize = 1_000
    /// The advisory lock key of retention (the migrator has its own).
    static let advisoryLockKey: Int64 = 0x656E_6162_7265

    private let database: any Database
    private let policy: RetentionPolicy
    private let now: @Sendable () -> Date

    public init(database: any Database, policy: RetentionPolicy = RetentionPolicy(), now: @escaping @Sendable () -> Date = Date.init) {
        self.database = database
        self.policy = policy
        self.now = now
    }

    public func run() async throws -> RetentionReport {
        let at = now()
        let limit = max(1, policy.batchSize)
        var report = RetentionReport()
        let memoryCutoff = at.addingTimeInterval(-Double(policy.memoryDays) * 86_400)
        let archiveCutoff = at.addingTimeInterval(-Double(policy.archiveDays) * 86_400)
        let eventsCutoff = at.addingTimeInterval(-policy.processedEventsAge)
        let jobsCutoff = at.addingTimeInterval(-policy.doneJobsAge)
        let steps: [(WritableKeyPath<RetentionReport, Int>, @Sendable (any SQLConnection) throws -> Int)] = [
            (\.memoryExpired, { [policy] in
                try ChatMemory.expireBatch(on: $0, olderThan: memoryCutoff, archive: policy.archiveDays > 0, at: at, limit: limit)
            }),
            (\.archivePurged, { try ChatMemory.purgeArchiveBatch(on: $0, archivedBefore: archiveCutoff, limit: limit) }),
            (\.processedEvents, { try ProcessedEvents.purgeBatch(on: $0, olderThan: eventsCutoff, limit: limit) }),
            (\.doneJobs, { try Self.purgeDoneJobsBatch(on: $0, olderThan: jobsCutoff, limit: limit) }),
            (\.assistantThreads, { try AssistantThreads.expireBatch(on: $0, olderThan: memoryCutoff, limit: limit) }),
        ]
        for (field, batch) in steps {
            while true {
                guard let removed = try await lockedBatch(batch) else {
                    report.complete = false
                    return report
                }
                report[keyPath: field] += removed
                if removed < limit { break }
            }
        }
        report.oauthStates = try await OAuthStateStore(database: database, now: now).purgeExpired()
        return report
    }

    /// Runs one batch in its own transaction, under the retention lock on PostgreSQL; nil when another replica holds it.
    private func lockedBatch(_ batch: @escaping @Sendable (any SQLConnection) throws -> Int) async throws -> Int? {
        let dialect = database.dialect
        return try await database.transaction { connection -> Int? in
            if dialect == .postgres {
                let locked = try connection.query("SELECT pg_try_advisory_xact_lock($1) AS locked", [.integer(Self.advisoryLockKey)])
                guard try locked.first?.bool("locked") == true else { return nil }
            }
            return try batch(connection)
        }
    }

    /// Finished jobs last touched before `cutoff`. `run_at <= updated_at` holds for every finished job, so the
    /// redundant `run_at < $1` lets the batch be found through `jobs_ready (status, run_at)` rather than by reading
    /// the whole queue (the ack path writes every job, so jobs gets no index of its own for this).
    static func purgeDoneJobsBatch(on connection: any SQLConnection, olderThan cutoff: Date, limit: Int) throws -> Int {
        try connection.run(purgeDoneJobsSQL, [.from(cutoff), .integer(Int64(limit))]).affectedRows
    }

    static let purgeDoneJobsSQL = """
        DELETE FROM jobs WHERE id IN (
            SELECT id FROM jobs WHERE status = 'done' AND run_at < $1 AND updated_at < $1 ORDER BY run_at LIMIT $2)
        """
}
