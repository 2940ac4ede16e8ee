import Foundation

/// Slack event ids already accepted. The primary key makes a claim atomic across every instance and restart.
public struct ProcessedEvents: Sendable {
    private let database: any Database
    private let now: @Sendable () -> Date
    /// The ack path's claims, group-committed (`claimAndEnqueue(grouped:)`).
    private let claims: WriteBatcher<EventClaim, Int64?>

    public init(database: any Database, now: @escaping @Sendable () -> Date = Date.init) {
        self.database = database
        self.now = now
        // Ahead of the worker's writes: Slack is waiting for these acknowledgements.
        claims = WriteBatcher(database: database, urgent: true) { claims, connection in
            try Self.store(claims, at: now(), on: connection)
        }
    }

    /// Claims the event and enqueues its job in one transaction: either both are stored or neither is, so a
    /// retry of a delivery that failed to store is processed, and a retry of a stored one is not.
    /// Returns the job id, or nil when the event was claimed before.
    public func claimAndEnqueue(eventID: String, tenantID: String, kind: String, payload: String, maxAttempts: Int = 5) async throws -> Int64? {
        try await claimAndEnqueue([
            EventClaim(eventID: eventID, tenantID: tenantID, kind: kind, payload: payload, maxAttempts: maxAttempts),
        ])[0]
    }

    /// Many claims in one transaction: each is claimed and enqueued exactly as by `claimAndEnqueue(eventID:…)`,
    /// and all are stored or none is. Returns the job ids in order, nil for events claimed before (including
    /// earlier in the same batch).
    public func claimAndEnqueue(_ claims: [EventClaim]) async throws -> [Int64?] {
        guard !claims.isEmpty else { return [] }
        let at = now()
        return try await database.withConnection { try Self.store(claims, at: at, on: $0) }
    }

    /// Claims the event and enqueues its job, group-committed with the claims arriving meanwhile (`WriteBatcher`): an
    /// idle server stores it at once, a busy one pays one commit per batch instead of one per event. Returns the job
    /// id, or nil when the event was claimed before, once its batch is durably stored.
    public func claimAndEnqueue(grouped claim: EventClaim) async throws -> Int64? {
        try await claims.write(claim)
    }

    /// Stores the batch all or nothing: on PostgreSQL one statement (atomic by itself, so no `BEGIN`/`COMMIT` round
    /// trips around it), on SQLite a transaction.
    private static func store(_ claims: [EventClaim], at: Date, on connection: any SQLConnection) throws -> [Int64?] {
        if connection.dialect == .postgres { return try claimAndEnqueuePostgres(claims, at: at, on: connection) }
        return try connection.transaction { try claimAndEnqueueSQLite(claims, at: at, on: $0) }
    }

    /// One statement claims the whole batch, so a batch of Slack's retries (all claimed before) costs one statement
    /// instead of one per event; each event claimed now gets its job, one insert each (a statement costs SQLite no
    /// round trip).
    private static func claimAndEnqueueSQLite(_ claims: [EventClaim], at: Date, on connection: any SQLConnection) throws -> [Int64?] {
        var rows: [String] = []
        rows.reserveCapacity(claims.count)
        var binds: [SQLValue] = [.from(at)]
        binds.reserveCapacity(1 + 2 * claims.count)
        for claim in claims {
            rows.append("($\(binds.count + 1), $\(binds.count + 2), $1)")
            binds.append(.text(claim.eventID))
            binds.append(.text(claim.tenantID))
        }
        let claimed = Set(try connection.query(
            "INSERT INTO processed_events (event_id, tenant_id, received_at) VALUES " + rows.joined(separator: ", ")
                + " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            binds
        ).map { try $0.string("event_id") })
        // An event twice in one batch is claimed by its first occurrence only.
        var enqueued = Set<String>()
        return try claims.map { claim -> Int64? in
            guard claimed.contains(claim.eventID), enqueued.insert(claim.eventID).inserted else { return nil }
            return try JobQueue.enqueue(
                on: connection, kind: claim.kind, tenantID: claim.tenantID, payload: claim.payload,
                maxAttempts: claim.maxAttempts, at: at
            )
        }
    }

    /// The batch travels as arrays, so the statement is the same for every batch size (prepared once per connection).
    /// Its rows: the positions in the batch that got a job (`position`, the first occurrence of each event claimed
    /// now), and the new jobs' ids (`id`), which the sequence hands out in the order the jobs are inserted: by position.
    private static func claimAndEnqueuePostgres(_ claims: [EventClaim], at: Date, on connection: any SQLConnection) throws -> [Int64?] {
        let rows = try connection.query(claimSQLPostgres, [
            .from(at),
            .text(PostgresArray.text(claims.map(\.eventID))),
            .text(PostgresArray.text(claims.map(\.tenantID))),
            .text(PostgresArray.text(claims.map(\.kind))),
            .text(PostgresArray.text(claims.map(\.payload))),
            .text(PostgresArray.text(claims.map { String($0.maxAttempts) })),
        ])
        var positions: [Int] = []
        var ids: [Int64] = []
        for row in rows {
            if let id = row.optionalInt64("id") { ids.append(id) } else { positions.append(try row.int("position")) }
        }
        guard positions.count == ids.count else { throw DatabaseError(.query, "claimed \(positions.count) events but queued \(ids.count) jobs") }
        var results = [Int64?](repeating: nil, count: claims.count)
        for (position, id) in zip(positions.sorted(), ids.sorted()) where (1...claims.count).contains(position) {
            results[position - 1] = id
        }
        return results
    }

    static let claimSQLPostgres = """
        WITH batch AS (
            SELECT * FROM unnest(CAST($2 AS TEXT[]), CAST($3 AS TEXT[]), CAST($4 AS TEXT[]), CAST($5 AS TEXT[]),
                CAST($6 AS INT[])) WITH ORDINALITY AS b (event_id, tenant_id, kind, payload, max_attempts, position)
        ), claimed AS (
            INSERT INTO processed_events (event_id, tenant_id, received_at)
            SELECT event_id, tenant_id, $1 FROM batch ORDER BY position
            ON CONFLICT (event_id) DO NOTHING RETURNING event_id
        ), first AS (
            SELECT DISTINCT ON (event_id) batch.* FROM batch JOIN claimed USING (event_id) ORDER BY event_id, position
        ), queued AS (
            INSERT INTO jobs (kind, tenant_id, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
            SELECT kind, tenant_id, payload, 'queued', 0, max_attempts, $1, $1, $1 FROM first ORDER BY position
            RETURNING id
        )
        SELECT CAST(position AS BIGINT) AS position, CAST(NULL AS BIGINT) AS id FROM first
        UNION ALL SELECT NULL, id FROM queued
        """

    public func contains(_ eventID: String) async throws -> Bool {
        try await database.queryFirst("SELECT event_id FROM processed_events WHERE event_id = $1", [.text(eventID)]) != nil
    }

    /// Forgets event ids older than `cutoff` (Slack stops retrying after about an hour), `batchSize` at a time so
    /// the ack path's inserts never wait long behind the delete; returns how many.
    @discardableResult
    public func purge(olderThan cutoff: Date, batchSize: Int = Retention.defaultBatchSize) async throws -> Int {
        try await database.inBatches { try Self.purgeBatch(on: $0, olderThan: cutoff, limit: batchSize) }
    }

    static func purgeBatch(on connection: any SQLConnection, olderThan cutoff: Date, limit: Int) throws -> Int {
        try connection.run(
            """
            DELETE FROM processed_events WHERE event_id IN (
                SELECT event_id FROM processed_events WHERE received_at < $1 ORDER BY received_at LIMIT $2)
            """,
            [.from(cutoff), .integer(Int64(limit))]
        ).affectedRows
    }
}

/// One event to claim and the job to enqueue with it.
public struct EventClaim: Sendable {
    public var eventID: String
    public var tenantID: String
    public var kind: String
    public var maxAttempts: Int
    /// Written only when needed: on SQLite for a claim that wins (most of a flood of Slack's retries never does),
    /// on PostgreSQL for the whole batch, which travels as arrays in one statement.
    private let makePayload: @Sendable () -> String

    public var payload: String { makePayload() }

    public init(eventID: String, tenantID: String, kind: String, payload: String, maxAttempts: Int = 5) {
        self.init(eventID: eventID, tenantID: tenantID, kind: kind, maxAttempts: maxAttempts) { payload }
    }

    public init(eventID: String, tenantID: String, kind: String, maxAttempts: Int = 5, payload: @escaping @Sendable () -> String) {
        self.eventID = eventID
        self.tenantID = tenantID
        self.kind = kind
        self.maxAttempts = maxAttempts
        self.makePayload = payload
    }
}
