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
    /// The claim that holds the job's lease; every later write about the job must name it.
    public var leaseToken: String = ""
}

/// A write about a job whose lease is no longer ours (it ran out and another worker took the job): refused, so a
/// slow worker cannot finish, fail or free somebody else's job.
public struct LeaseLost: Error, CustomStringConvertible {
    public let jobID: Int64
    public var description: String { "the lease of job \(jobID) was taken over" }
}

/// A durable queue in the database. Workers lease jobs: a job whose worker died becomes claimable again when
/// its lease runs out, so "acknowledged but unfinished" work is done after a restart.
///
/// A lease moves the job's `run_at` to the lease's end (`locked_until`), the moment it becomes claimable again if its
/// worker dies: the claim reads `jobs_queue (run_at, id)` up to now, so it no longer walks past every job in flight
/// (one per busy worker, hundreds at saturation: 2 ms of PostgreSQL's time per claim) to find the due ones. A job that is done
/// gets `run_at` = `updated_at` back, which retention relies on.
///
/// A `lease_token` is given only to a queued job (by `claim`), and every change of status clears it; so the writes
/// of a lease holder match on `id` and `lease_token` alone. (Saying `status = 'queued'` too let PostgreSQL, planning
/// on statistics that lag a fast-filling table, read them through the partial `jobs_queue` index instead of the key.)
public struct JobQueue: Sendable {
    private let database: any Database
    private let now: @Sendable () -> Date
    /// The two writes every answer makes after its claim, group-committed across workers.
    private let batches: WorkerWriteBatches

    public init(database: any Database, now: @escaping @Sendable () -> Date = Date.init) {
        self.database = database
        self.now = now
        self.batches = WorkerWriteBatches(database: database, now: now)
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

    /// Leases up to `limit` due jobs for `lease`, oldest first, skipping the tenants in `excludingTenants` (those at
    /// their in-flight cap) and jobs that have used up their attempts. Every job claimed gets the same fresh lease
    /// token. The outer WHERE repeats the conditions so that two workers racing for one row cannot both win
    /// (PostgreSQL rechecks them on the locked row, and `SKIP LOCKED` lets replicas pass each other's locked rows
    /// instead of queueing behind them).
    public func claim(limit: Int, lease: TimeInterval, excludingTenants: [String] = []) async throws -> [Job] {
        let at = now()
        let token = SecureRandom.token(byteCount: 12)
        // The excluded tenants travel as one text value, so the statement (and SQLite's prepared-statement cache)
        // stays the same whatever their number.
        let excluded = excludingTenants.isEmpty ? "" : "," + excludingTenants.joined(separator: ",") + ","
        let binds: [SQLValue] = [.from(at), .from(at.addingTimeInterval(lease)), .integer(Int64(limit)), .text(token), .text(excluded)]
        guard database.dialect == .postgres else {
            return try await database.query(Self.claimSQLSQLite, binds).map(Self.job).sorted { $0.id < $1.id }
        }
        return try await database.transaction { connection in
            // The planner's statistics lag a queue that fills in seconds (autovacuum looks once a minute). Believing
            // it nearly empty, PostgreSQL read every queued job into a bitmap and sorted them, on each claim: 12 ms per
            // claim with a few thousand queued, two thirds of the server's time per answer. Walking `jobs_queue` in
            // the claim's order reads the jobs in flight and then only the ones taken, whatever the statistics say.
            _ = try connection.run(Self.keyLookupsOnlySQL, [])
            return try connection.query(Self.claimSQLPostgres, binds).map(Self.job).sorted { $0.id < $1.id }
        }
    }

    /// For the rest of the transaction, plans that read `jobs` through its indexes in order, row by row: no bitmap,
    /// no sequential scan, no hash or merge join (see `claim`).
    static let keyLookupsOnlySQL = """
        SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true),
            set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)
        """

    /// Due jobs, oldest first. `position` is the dialect's substring search (`instr` / `strpos`).
    private static func claimCandidates(position: String) -> String {
        """
        SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $1
            AND (locked_until IS NULL OR locked_until <= $1) AND attempts < max_attempts
            AND ($5 = '' OR \(position)($5, ',' || tenant_id || ',') = 0)
        ORDER BY run_at, id LIMIT $3
        """
    }

    /// The recheck is written `(…) IS TRUE` so that SQLite cannot use it to pick the `jobs_ready` index for the
    /// outer UPDATE: with a plain `status = 'queued'` it walked every queued job testing `id IN (…)` (22 ms with
    /// 200,000 queued, all of it holding the one connection the ack path writes on) instead of looking up the ids.
    static let claimSQLSQLite = """
        UPDATE jobs SET attempts = attempts + 1, locked_until = $2, run_at = $2, lease_token = $4, updated_at = $1
        WHERE id IN (\(claimCandidates(position: "instr")))
            AND (status = 'queued' AND (locked_until IS NULL OR locked_until <= $1)) IS TRUE
        RETURNING \(columns)
        """

    /// A CTE, not `id IN (…)`: PostgreSQL may run an `IN` subquery again per candidate row, and with `SKIP LOCKED`
    /// each run picks other rows, so the LIMIT no longer bounds the claim (seen: 52 claimed for a limit of 5).
    static let claimSQLPostgres = """
        WITH picked AS (\(claimCandidates(position: "strpos")) FOR UPDATE SKIP LOCKED)
        UPDATE jobs SET attempts = jobs.attempts + 1, locked_until = $2, run_at = $2, lease_token = $4, updated_at = $1
        FROM picked WHERE jobs.id = picked.id
        RETURNING \(columns.split(separator: ",").map { "jobs." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", "))
        """

    /// Jobs whose every attempt ended with its worker gone (a job that kills its process each time): dead, instead
    /// of claimed again and again. Returns how many.
    @discardableResult
    public func buryExhausted() async throws -> Int {
        let at = now()
        return try await database.run(
            """
            UPDATE jobs SET status = 'dead', locked_until = NULL, lease_token = NULL, updated_at = $1,
                last_error = 'gave up: every attempt ended without an answer from its worker (crash or lost lease)'
            WHERE status = 'queued' AND attempts >= max_attempts AND locked_until IS NOT NULL AND locked_until <= $1
            """,
            [.from(at)]
        ).affectedRows
    }

    /// Marks the job done; throws `LeaseLost` when the lease is no longer `job`'s.
    public func complete(_ job: Job) async throws {
        try expectOwned(job, try await database.run(
            """
            UPDATE jobs SET status = 'done', locked_until = NULL, lease_token = NULL, last_error = NULL, updated_at = $3,
                run_at = $3
            WHERE id = $1 AND lease_token = $2
            """,
            [.integer(job.id), .text(job.leaseToken), .from(now())]
        ))
    }

    /// Finishes an answered job: done, with the `ts` of its posted reply, and the question and answer kept as the
    /// thread's memory when `exchange` is given, all or nothing, so an answer costs one commit after the post. Throws
    /// `LeaseLost` (and writes nothing) when the lease is no longer `job`'s.
    public func finish(_ job: Job, postedTS: String?, remembering exchange: ChatExchange?) async throws {
        let write = FinishWrite(id: job.id, token: job.leaseToken, postedTS: postedTS, exchange: exchange)
        guard try await batches.finishes.write(write) else { throw LeaseLost(jobID: job.id) }
    }

    /// Records a failed attempt: the job runs again after `retryAfter`, or is marked dead once out of attempts.
    /// Returns the status it is left in; throws `LeaseLost` when the lease is no longer `job`'s.
    @discardableResult
    public func fail(_ job: Job, error: String, retryAfter: TimeInterval) async throws -> Job.Status {
        let at = now()
        let status: Job.Status = job.attempts >= job.maxAttempts ? .dead : .queued
        try expectOwned(job, try await database.run(
            """
            UPDATE jobs SET status = $3, run_at = $4, locked_until = NULL, lease_token = NULL, last_error = $5, updated_at = $6
            WHERE id = $1 AND lease_token = $2
            """,
            [.integer(job.id), .text(job.leaseToken), .text(status.rawValue), .from(at.addingTimeInterval(retryAfter)),
             .text(error), .from(at)]
        ))
        return status
    }

    /// Extends the leases of jobs still being worked on (the worker's heartbeat), in one transaction. Returns the
    /// ids whose lease is no longer theirs.
    @discardableResult
    public func renew(_ jobs: [Job], lease: TimeInterval) async throws -> [Int64] {
        let until = now().addingTimeInterval(lease)
        // In the order of their ids, as every write of many jobs takes their row locks: two such writes waiting for
        // each other's rows in opposite orders would deadlock.
        let jobs = jobs.sorted { $0.id < $1.id }
        if database.dialect == .postgres {
            // One statement, so the locks of a thousand jobs in flight are held for one statement, not a thousand.
            let renewed = try await database.transaction { connection in
                _ = try connection.run(Self.keyLookupsOnlySQL, [])
                return Set(try connection.query(Self.renewSQLPostgres, [
                    .from(until), .text(PostgresArray.text(jobs.map { String($0.id) })),
                    .text(PostgresArray.text(jobs.map(\.leaseToken))),
                ]).map { try $0.int64("id") })
            }
            return jobs.map(\.id).filter { !renewed.contains($0) }
        }
        return try await database.transaction { connection in
            var lost: [Int64] = []
            for job in jobs {
                let updated = try connection.run(
                    "UPDATE jobs SET locked_until = $3, run_at = $3 WHERE id = $1 AND lease_token = $2",
                    [.integer(job.id), .text(job.leaseToken), .from(until)]
                )
                if updated.affectedRows == 0 { lost.append(job.id) }
            }
            return lost
        }
    }

    private static let renewSQLPostgres = """
        UPDATE jobs SET locked_until = $1, run_at = $1
        FROM unnest(CAST($2 AS BIGINT[]), CAST($3 AS TEXT[])) AS lease (id, token)
        WHERE jobs.id = lease.id AND jobs.lease_token = lease.token
        RETURNING jobs.id
        """

    /// Keeps the reply a job decided on, so a retry posts it instead of asking the model again.
    public func saveReply(_ job: Job, reply: String, remembered: Bool) async throws {
        let write = ReplyWrite(id: job.id, token: job.leaseToken, reply: reply, remembered: remembered)
        guard try await batches.replies.write(write) else { throw LeaseLost(jobID: job.id) }
    }

    /// Records the Slack `ts` of the posted reply, so a retry never posts it a second time.
    public func markPosted(_ job: Job, ts: String) async throws {
        try expectOwned(job, try await database.run(
            "UPDATE jobs SET posted_ts = $3, updated_at = $4 WHERE id = $1 AND lease_token = $2",
            [.integer(job.id), .text(job.leaseToken), .text(ts), .from(now())]
        ))
    }

    /// Replaces a queued job's kind and payload: only for turning jobs written by an earlier version into today's.
    public func rewrite(_ id: Int64, kind: String, payload: String) async throws {
        try await database.query(
            "UPDATE jobs SET kind = $2, payload = $3, updated_at = $4 WHERE id = $1 AND status = 'queued'",
            [.integer(id), .text(kind), .text(payload), .from(now())]
        )
    }

    /// Gives a leased job back untouched (its worker is stopping): claimable at once, the attempt not counted.
    public func release(_ job: Job) async throws {
        try expectOwned(job, try await database.run(
            """
            UPDATE jobs SET locked_until = NULL, lease_token = NULL, run_at = $3,
                attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = $3
            WHERE id = $1 AND lease_token = $2
            """,
            [.integer(job.id), .text(job.leaseToken), .from(now())]
        ))
    }

    private func expectOwned(_ job: Job, _ result: SQLResult) throws {
        guard result.affectedRows == 1 else { throw LeaseLost(jobID: job.id) }
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

    static let columns = """
        id, kind, tenant_id, payload, attempts, max_attempts, last_error, created_at, reply, reply_remembered, posted_ts,
        lease_token
        """

    private static func job(_ row: SQLRow) throws -> Job {
        Job(
            id: try row.int64("id"), kind: try row.string("kind"), tenantID: try row.string("tenant_id"),
            payload: try row.string("payload"), attempts: try row.int("attempts"), maxAttempts: try row.int("max_attempts"),
            lastError: row.optionalString("last_error"), createdAt: try row.date("created_at"),
            reply: row.optionalString("reply"), replyRemembered: (row.optionalInt64("reply_remembered") ?? 0) != 0,
            postedTS: row.optionalString("posted_ts"), leaseToken: row.optionalString("lease_token") ?? ""
        )
    }
}

private struct ReplyWrite: Sendable {
    var id: Int64
    var token: String
    var reply: String
    var remembered: Bool
}

private struct FinishWrite: Sendable {
    var id: Int64
    var token: String
    var postedTS: String?
    var exchange: ChatExchange?
}

/// `saveReply` and `finish`, the two writes of every answer after its claim, each group-committed across the workers
/// (`WriteBatcher`): at saturation a statement and a commit per answer cost more in their fixed part (on PostgreSQL a
/// round trip, a plan and a commit; on SQLite a commit that appends every page it touched to the WAL) than in the rows
/// they change. A job whose lease is no longer the writer's is left untouched, its neighbours written.
private final class WorkerWriteBatches: Sendable {
    let replies: WriteBatcher<ReplyWrite, Bool>
    let finishes: WriteBatcher<FinishWrite, Bool>

    init(database: any Database, now: @escaping @Sendable () -> Date) {
        guard database.dialect == .postgres else {
            // SQLite: one transaction per batch, a statement per write (statements cost SQLite no round trip).
            replies = WriteBatcher(database: database) { writes, connection in
                try connection.transaction { connection in
                    let at = now()
                    return try writes.map { write in
                        try connection.run(Self.saveReplySQL, [
                            .integer(write.id), .text(write.token), .text(write.reply), .from(write.remembered), .from(at),
                        ]).affectedRows == 1
                    }
                }
            }
            finishes = WriteBatcher(database: database) { writes, connection in
                try connection.transaction { connection in
                    let at = now()
                    return try writes.map { write in
                        let done: [SQLValue] = [.integer(write.id), .text(write.token), .from(write.postedTS), .from(at)]
                        guard try connection.run(Self.finishSQL, done).affectedRows == 1 else { return false }
                        if let exchange = write.exchange { try ChatMemory.appendExchange(on: connection, exchange) }
                        return true
                    }
                }
            }
            return
        }
        // PostgreSQL: one statement over arrays per batch, so its text is the same for every batch size. Each batch
        // takes its jobs' row locks in the order of their ids, as `renew` does (see there).
        replies = WriteBatcher(database: database) { unordered, connection in
            let writes = unordered.sorted { $0.id < $1.id }
            let ids = try Self.run(Self.saveRepliesSQLPostgres, on: connection, [
                .from(now()),
                .text(PostgresArray.text(writes.map { String($0.id) })),
                .text(PostgresArray.text(writes.map(\.token))),
                .text(PostgresArray.text(writes.map(\.reply))),
                .text(PostgresArray.text(writes.map { $0.remembered ? "1" : "0" })),
            ])
            return unordered.map { ids.contains($0.id) }
        }
        finishes = WriteBatcher(database: database) { unordered, connection in
            let writes = unordered.sorted { $0.id < $1.id }
            let ids = try Self.run(Self.finishSQLPostgres, on: connection, [
                .from(now()),
                .text(PostgresArray.text(writes.map { String($0.id) })),
                .text(PostgresArray.text(writes.map(\.token))),
                .text(PostgresArray.text(writes.map { $0.postedTS ?? "" })),
                .text(PostgresArray.text(writes.map { $0.exchange == nil ? "false" : "true" })),
                .text(PostgresArray.text(writes.map { $0.exchange?.tenantID ?? "" })),
                .text(PostgresArray.text(writes.map { $0.exchange?.channelID ?? "" })),
                .text(PostgresArray.text(writes.map { $0.exchange?.threadTS ?? "" })),
                .text(PostgresArray.text(writes.map { $0.exchange?.question ?? "" })),
                .text(PostgresArray.text(writes.map { $0.exchange?.answer ?? "" })),
                .text(PostgresArray.text(writes.map { String($0.exchange?.at.epochMilliseconds ?? 0) })),
            ])
            return unordered.map { ids.contains($0.id) }
        }
    }

    /// The ids of the jobs the statement changed. The planner must look each job up by its key: with statistics
    /// that lag a fast-filling table it would rather join the batch against the whole of `jobs` (the claim's story).
    private static func run(_ sql: String, on connection: any SQLConnection, _ binds: [SQLValue]) throws -> Set<Int64> {
        try connection.transaction { connection in
            _ = try connection.run(JobQueue.keyLookupsOnlySQL, [])
            return Set(try connection.query(sql, binds).map { try $0.int64("id") })
        }
    }

    private static let saveReplySQL = """
        UPDATE jobs SET reply = $3, reply_remembered = $4, updated_at = $5 WHERE id = $1 AND lease_token = $2
        """

    private static let finishSQL = """
        UPDATE jobs SET status = 'done', posted_ts = COALESCE($3, posted_ts), locked_until = NULL, lease_token = NULL,
            last_error = NULL, updated_at = $4, run_at = $4
        WHERE id = $1 AND lease_token = $2
        """

    private static let saveRepliesSQLPostgres = """
        UPDATE jobs SET reply = batch.reply, reply_remembered = batch.remembered, updated_at = $1
        FROM unnest(CAST($2 AS BIGINT[]), CAST($3 AS TEXT[]), CAST($4 AS TEXT[]), CAST($5 AS INT[]))
            AS batch (id, token, reply, remembered)
        WHERE jobs.id = batch.id AND jobs.lease_token = batch.token
        RETURNING jobs.id
        """

    /// Done, with the posted reply's `ts` ('' for none), and the exchange's two turns kept as the thread's memory,
    /// written only for the jobs the UPDATE found still the writer's. The UPDATE returns each job's batch row itself:
    /// joining `done` back to `batch` ran as a nested loop (hash joins are off in these transactions), a batch of 182
    /// compared 33,000 pairs and spent 9 of its 15 ms there.
    private static let finishSQLPostgres = """
        WITH batch AS (
            SELECT * FROM unnest(CAST($2 AS BIGINT[]), CAST($3 AS TEXT[]), CAST($4 AS TEXT[]), CAST($5 AS BOOLEAN[]),
                CAST($6 AS TEXT[]), CAST($7 AS TEXT[]), CAST($8 AS TEXT[]), CAST($9 AS TEXT[]), CAST($10 AS TEXT[]),
                CAST($11 AS BIGINT[]))
                WITH ORDINALITY AS b (id, token, posted_ts, remember, tenant_id, channel_id, thread_ts, question, answer,
                    remembered_at, position)
        ), done AS (
            UPDATE jobs SET status = 'done', posted_ts = COALESCE(NULLIF(batch.posted_ts, ''), jobs.posted_ts),
                locked_until = NULL, lease_token = NULL, last_error = NULL, updated_at = $1, run_at = $1
            FROM batch WHERE jobs.id = batch.id AND jobs.lease_token = batch.token
            RETURNING jobs.id, batch.remember, batch.tenant_id, batch.channel_id, batch.thread_ts, batch.question,
                batch.answer, batch.remembered_at, batch.position
        ), remembered AS (
            INSERT INTO chat_memory (tenant_id, channel_id, thread_ts, role, content, created_at)
            SELECT done.tenant_id, done.channel_id, done.thread_ts, turn.role, turn.content, done.remembered_at
            FROM done, LATERAL (VALUES (1, 'user', done.question), (2, 'assistant', done.answer)) AS turn (n, role, content)
            WHERE done.remember
            ORDER BY done.position, turn.n
        )
        SELECT id FROM done
        """
}
