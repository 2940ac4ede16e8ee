import Foundation

/// Slack event ids already accepted. The primary key makes a claim atomic across every instance and restart.
public struct ProcessedEvents: Sendable {
    private let database: any Database
    private let now: @Sendable () -> Date

    public init(database: any Database, now: @escaping @Sendable () -> Date = Date.init) {
        self.database = database
        self.now = now
    }

    /// Claims the event and enqueues its job in one transaction: either both are stored or neither is, so a
    /// retry of a delivery that failed to store is processed, and a retry of a stored one is not.
    /// Returns the job id, or nil when the event was claimed before.
    public func claimAndEnqueue(eventID: String, tenantID: String, kind: String, payload: String, maxAttempts: Int = 5) async throws -> Int64? {
        let at = now()
        return try await database.transaction { connection -> Int64? in
            let claimed = try connection.query(
                "INSERT INTO processed_events (event_id, tenant_id, received_at) VALUES ($1, $2, $3) ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
                [.text(eventID), .text(tenantID), .from(at)]
            )
            guard !claimed.isEmpty else { return nil }
            return try JobQueue.enqueue(
                on: connection, kind: kind, tenantID: tenantID, payload: payload, maxAttempts: maxAttempts, at: at
            )
        }
    }

    public func contains(_ eventID: String) async throws -> Bool {
        try await database.queryFirst("SELECT event_id FROM processed_events WHERE event_id = $1", [.text(eventID)]) != nil
    }

    /// Forgets event ids older than `cutoff` (Slack stops retrying after about an hour); returns how many.
    @discardableResult
    public func purge(olderThan cutoff: Date) async throws -> Int {
        try await database.run("DELETE FROM processed_events WHERE received_at < $1", [.from(cutoff)]).affectedRows
    }
}
