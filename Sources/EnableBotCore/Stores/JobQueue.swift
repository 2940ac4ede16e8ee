import Foundation

/// A unit of background work, stored so that an acknowledged event survives a restart.
public struct Job: Sendable, Equatable {
    public enum Status: String, Sendable {
        case queued
        case done
        case dead
    }

    public var id: Int64
    public var kind: String
    public var tenantID: String
    public var payload: String
    public var attempts: Int
    public var maxAttempts: Int
    public var lastError: String?
    public var createdAt: Date
    /// The reply an earlier attempt decided on (the model's answer or an apology), if any.
    public var reply: String?
    /// Whether `reply` is the model's answer, to be kept as a turn of the thread's memory.
    public var replyRemembered: Bool = false
    /// The Slack `ts` of the reply once posted: a retry never posts a second message.
    public var postedTS: String?
}

/// A durable queue in the database. Workers lease jobs: a job whose worker died becomes claimable again when
/// its lease runs out, so "acknowledged but unfinished" work is done after a restart.
public struct JobQueue: Sendable {
    private let database: any Database
    private let now: @Sendable () -> Date

    public init(database: any Database, now: @escaping @Sendable () -> Date = Date.init) {
        self.database = database
        self.now = now
    }

    @discardableResult
    public func enqueue(kind: String, tenantID: String, payload: String, maxAttempts: Int = 5) async throws -> Int64 {
        let values = Self.insertValues(kind: kind, tenantID: tenantID, payload: payload, maxAttempts: maxAttempts, at: now())
        guard let row = try await database.queryFirst(Self.insertSQL, values) else {
            throw DatabaseError(.query, "enqueue returned no id")
        }
        return try row.int64("id")
    }

    /// The same insert for use inside a caller's transaction (e.g. together with claiming the event id).
    @discardableResult
    public static func enqueue(
        on connection: any SQLConnection, kind: String, tenantID: String, payload: String, maxAttempts: Int = 5, at: Date
    ) throws -> Int64 {
        guard let row = try connection.query(
            insertSQL, insertValues(kind: kind, tenantID: tenantID, payload: payload, maxAttempts: maxAttempts, at: at)
        ).first else { throw DatabaseError(.query, "enqueue returned no id") }
        return try row.int64("id")
    }

    /// Leases up to `limit` due jobs for `lease`. The outer WHERE repeats the conditions so that two workers
    /// racing for the same row cannot both win (PostgreSQL rechecks them on the locked row).
    public func claim(limit: Int, lease: TimeInterval) async throws -> [Job] {
        let at = now()
        return try await database.query(
            Self.claimSQL, [.from(at), .from(at.addingTimeInterval(lease)), .integer(Int64(limit))]
        ).map(Self.job).sorted { $0.id < $1.id }
    }

    /// The recheck is written `(…) IS TRUE` so that SQLite cannot use it to pick the `jobs_ready` index for the
    /// outer UPDATE: with a plain `status = 'queued'` it walked every queued job testing `id IN (…)` (22 ms with
    /// 200,000 queued, all of it holding the one connection the ack path writes on) instead of looking up the ids.
    static let claimSQL = """
        UPDATE jobs SET attempts = attempts + 1, locked_until = $2, updated_at = $1
        WHERE id IN (
            SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $1
                AND (locked_until IS NULL OR locked_until <= $1)
            ORDER BY run_at, id LIMIT $3
        ) AND (status = 'queued' AND (locked_until IS NULL OR locked_until <= $1)) IS TRUE
        RETURNING \(columns)
        """

    public func complete(_ id: Int64) async throws {
        try await database.query(
            "UPDATE jobs SET status = 'done', locked_until = NULL, last_error = NULL, updated_at = $2 WHERE id = $1",
            [.integer(id), .from(now())]
        )
    }

    /// Records a failed attempt: the job runs again after `retryAfter`, or is marked dead once out of attempts.
    /// Returns the status it is left in.
    @discardableResult
    public func fail(_ job: Job, error: String, retryAfter: TimeInterval) async throws -> Job.Status {
        let at = now()
        let status: Job.Status = job.attempts >= job.maxAttempts ? .dead : .queued
        try await database.query(
            "UPDATE jobs SET status = $2, run_at = $3, locked_until = NULL, last_error = $4, updated_at = $5 WHERE id = $1",
            [.integer(job.id), .text(status.rawValue), .from(at.addingTimeInterval(retryAfter)), .text(error), .from(at)]
        )
        return status
    }

    /// Extends the leases of jobs still being worked on, so a long job is not claimed twice.
    public func renew(_ ids: [Int64], lease: TimeInterval) async throws {
        let at = now()
        for id in ids {
            try await database.query(
                "UPDATE jobs SET locked_until = $2 WHERE id = $1 AND status = 'queued'",
                [.integer(id), .from(at.addingTimeInterval(lease))]
            )
        }
    }

    /// Keeps the reply a job decided on, so a retry posts it instead of asking the model again.
    public func saveReply(_ id: Int64, reply: String, remembered: Bool) async throws {
        try await database.query(
            "UPDATE jobs SET reply = $2, reply_remembered = $3, updated_at = $4 WHERE id = $1 AND status = 'queued'",
            [.integer(id), .text(reply), .from(remembered), .from(now())]
        )
    }

    /// Records the Slack `ts` of the posted reply, so a retry never posts it a second time.
    public func markPosted(_ id: Int64, ts: String) async throws {
        try await database.query(
            "UPDATE jobs SET posted_ts = $2, updated_at = $3 WHERE id = $1 AND status = 'queued'",
            [.integer(id), .text(ts), .from(now())]
        )
    }

    /// Replaces a queued job's kind and payload: only for turning jobs written by an earlier version into today's.
    public func rewrite(_ id: Int64, kind: String, payload: String) async throws {
        try await database.query(
            "UPDATE jobs SET kind = $2, payload = $3, updated_at = $4 WHERE id = $1 AND status = 'queued'",
            [.integer(id), .text(kind), .text(payload), .from(now())]
        )
    }

    /// Gives a leased job back untouched (its worker is stopping): claimable at once, the attempt not counted.
    public func release(_ id: Int64) async throws {
        try await database.query(
            """
            UPDATE jobs SET locked_until = NULL, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,
                updated_at = $2
            WHERE id = $1 AND status = 'queued'
            """,
            [.integer(id), .from(now())]
        )
    }

    public func count(status: Job.Status, tenantID: String? = nil) async throws -> Int {
        try await database.queryFirst(
            "SELECT COUNT(*) AS n FROM jobs WHERE status = $1 AND (CAST($2 AS TEXT) IS NULL OR tenant_id = $2)",
            [.text(status.rawValue), .from(tenantID)]
        )?.int("n") ?? 0
    }

    public func dead(limit: Int = 50) async throws -> [Job] {
        try await database.query(
            """
            SELECT \(Self.columns) FROM jobs WHERE status = 'dead' ORDER BY id DESC LIMIT $1
            """,
            [.integer(Int64(limit))]
        ).map(Self.job)
    }

    /// Deletes finished jobs older than `cutoff`; returns how many.
    @discardableResult
    public func purgeDone(olderThan cutoff: Date) async throws -> Int {
        try await database.run("DELETE FROM jobs WHERE status = 'done' AND updated_at < $1", [.from(cutoff)]).affectedRows
    }

    private static let insertSQL = """
        INSERT INTO jobs (kind, tenant_id, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
        VALUES ($1, $2, $3, 'queued', 0, $4, $5, $5, $5) RETURNING id
        """

    private static func insertValues(kind: String, tenantID: String, payload: String, maxAttempts: Int, at: Date) -> [SQLValue] {
        [.text(kind), .text(tenantID), .text(payload), .integer(Int64(maxAttempts)), .from(at)]
    }

    static let columns = "id, kind, tenant_id, payload, attempts, max_attempts, last_error, created_at, reply, reply_remembered, posted_ts"

    private static func job(_ row: SQLRow) throws -> Job {
        Job(
            id: try row.int64("id"), kind: try row.string("kind"), tenantID: try row.string("tenant_id"),
            payload: try row.string("payload"), attempts: try row.int("attempts"), maxAttempts: try row.int("max_attempts"),
            lastError: row.optionalString("last_error"), createdAt: try row.date("created_at"),
            reply: row.optionalString("reply"), replyRemembered: (row.optionalInt64("reply_remembered") ?? 0) != 0,
            postedTS: row.optionalString("posted_ts")
        )
    }
}
