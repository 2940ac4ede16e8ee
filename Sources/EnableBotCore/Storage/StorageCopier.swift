import Foundation
import Logging

/// Copies every row from one EnableBot database to another (e.g. SQLite → PostgreSQL) and checks the counts.
/// The target is migrated first; rows already there (same key) are kept, so a copy can be re-run.
public struct StorageCopier: Sendable {
    /// Tables in copy order, with their key columns.
    static let tables: [(name: String, key: String)] = [
        ("installations", "tenant_id"), ("encryption_keys", "key_id"), ("oauth_states", "state"),
        ("processed_events", "event_id"), ("jobs", "id"), ("chat_memory", "id"), ("chat_memory_archive", "id"),
        ("audit_log", "id"), ("usage_counters", "tenant_id, day"), ("dashboard_principals", "principal"),
        ("revoked_sessions", "session_id"), ("assistant_threads", "tenant_id, channel_id, thread_ts"),
    ]
    static let identityTables = ["jobs", "chat_memory", "audit_log"]

    public struct TableReport: Sendable, Equatable {
        public var table: String
        public var sourceRows: Int
        public var targetRows: Int
    }

    public let source: any Database
    public let target: any Database
    public let logger: Logger

    public init(source: any Database, target: any Database, logger: Logger) {
        self.source = source
        self.target = target
        self.logger = logger
    }

    /// With `dryRun` nothing is written: the report shows what the source holds and the target holds now.
    public func copy(dryRun: Bool, batchSize: Int = 500) async throws -> [TableReport] {
        try await Migrator.migrate(source, logger: logger)
        if !dryRun { try await Migrator.migrate(target, logger: logger) }
        var reports: [TableReport] = []
        for (table, key) in Self.tables {
            let sourceCount = try await count(table, in: source)
            if !dryRun {
                var offset = 0
                while true {
                    let rows = try await source.query(
                        "SELECT * FROM \(table) ORDER BY \(key) LIMIT $1 OFFSET $2",
                        [.integer(Int64(batchSize)), .integer(Int64(offset))]
                    )
                    if rows.isEmpty { break }
                    try await insert(rows, into: table, conflictKey: conflictKey(table, key: key))
                    offset += rows.count
                }
                if target.dialect == .postgres, Self.identityTables.contains(table) {
                    // pg_get_serial_sequence also finds chat memory's own sequence (OWNED BY), not only identities.
                    try await target.query(
                        "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM \(table)), 1))"
                    )
                }
            }
            let targetCount = dryRun ? (try? await count(table, in: target)) ?? 0 : try await count(table, in: target)
            reports.append(TableReport(table: table, sourceRows: sourceCount, targetRows: targetCount))
        }
        return reports
    }

    /// On PostgreSQL chat memory is partitioned by tenant, and its primary key must hold the partition key.
    private func conflictKey(_ table: String, key: String) -> String {
        table == "chat_memory" && target.dialect == .postgres ? "tenant_id, id" : key
    }

    private func insert(_ rows: [SQLRow], into table: String, conflictKey key: String) async throws {
        try await target.transaction { connection in
            for row in rows {
                let placeholders = (1...row.columns.count).map { "$\($0)" }.joined(separator: ", ")
                try connection.query(
                    "INSERT INTO \(table) (\(row.columns.joined(separator: ", "))) VALUES (\(placeholders)) ON CONFLICT (\(key)) DO NOTHING",
                    row.values
                )
            }
        }
    }

    private func count(_ table: String, in database: any Database) async throws -> Int {
        try await database.queryFirst("SELECT COUNT(*) AS n FROM \(table)")?.int("n") ?? 0
    }
}
