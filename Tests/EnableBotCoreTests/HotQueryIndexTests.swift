@testable import EnableBotCore
import Foundation
import Testing
import TestSupport

/// Issue 12: the queries that run per event, per job or per retention batch are answered through an index on both
/// databases, so their cost does not grow with the tables. PostgreSQL is asked with sequential scans priced out
/// (`enable_seqscan = off`): it then picks a plan without one whenever an index can answer, so "no Seq Scan" means
/// "an index fits" however few rows the test table holds.
@Suite struct HotQueryIndexTests {
    struct HotQuery: Sendable, CustomStringConvertible {
        var description: String
        var sql: String
        var binds: [SQLValue]
        /// The index the plan must name (PostgreSQL names per-partition copies after the columns; nil: any index).
        var sqliteIndex: String?
        /// PostgreSQL's own statement, where the dialects differ (the job claim).
        var postgresSQL: String?
    }

    static let cutoff = SQLValue.integer(1_800_000_000_000)

    static let queries: [HotQuery] = [
        HotQuery(description: "job claim", sql: JobQueue.claimSQLSQLite, binds: [cutoff, cutoff, .integer(10), .text("t"), .text(",T9,")],
                 sqliteIndex: "jobs_ready", postgresSQL: JobQueue.claimSQLPostgres),
        HotQuery(description: "processed event lookup", sql: "SELECT event_id FROM processed_events WHERE event_id = $1",
                 binds: [.text("Ev1")], sqliteIndex: "sqlite_autoindex_processed_events_1"),
        HotQuery(description: "chat memory recent turns", sql: ChatMemory.recentSQL,
                 binds: [.text("T1"), .text("C1"), .text("1.0"), .integer(20)], sqliteIndex: "chat_memory_thread"),
        HotQuery(description: "installation by tenant",
                 sql: "SELECT \(InstallationStore.columns) FROM installations WHERE tenant_id = $1", binds: [.text("T1")],
                 sqliteIndex: "sqlite_autoindex_installations_1"),
        HotQuery(description: "installation by team", sql: "SELECT tenant_id FROM installations WHERE team_id = $1",
                 binds: [.text("T1")], sqliteIndex: "installations_team"),
        HotQuery(description: "installation by enterprise", sql: "SELECT tenant_id FROM installations WHERE enterprise_id = $1",
                 binds: [.text("E1")], sqliteIndex: "installations_enterprise"),
        HotQuery(description: "retention: processed events batch",
                 sql: "SELECT event_id FROM processed_events WHERE received_at < $1 ORDER BY received_at LIMIT $2",
                 binds: [cutoff, .integer(1000)], sqliteIndex: "processed_events_received"),
        HotQuery(description: "retention: done jobs batch",
                 sql: "SELECT id FROM jobs WHERE status = 'done' AND run_at < $1 AND updated_at < $1 ORDER BY run_at LIMIT $2",
                 binds: [cutoff, .integer(1000)], sqliteIndex: "jobs_ready"),
        HotQuery(description: "retention: chat memory batch edge",
                 sql: "SELECT created_at FROM chat_memory WHERE created_at < $1 ORDER BY created_at LIMIT 1 OFFSET $2",
                 binds: [cutoff, .integer(999)], sqliteIndex: "chat_memory_created"),
        HotQuery(description: "retention: chat memory batch delete",
                 sql: "DELETE FROM chat_memory WHERE created_at < $1 AND created_at <= $2", binds: [cutoff, cutoff],
                 sqliteIndex: "chat_memory_created"),
    ]

    @Test("SQLite answers every hot query through an index", arguments: queries)
    func sqlitePlans(query: HotQuery) async throws {
        try await withTestDatabase(.sqlite) { test in
            let plan = try await test.database.query("EXPLAIN QUERY PLAN " + query.sql, query.binds).map { try $0.string("detail") }
            // "SCAN t" without USING reads the whole table; SEARCH … USING INDEX / PRIMARY KEY does not.
            #expect(!plan.contains { $0.hasPrefix("SCAN ") && !$0.contains(" USING ") }, "\(plan)")
            if let index = query.sqliteIndex {
                #expect(plan.contains { $0.contains(index) }, "\(plan)")
            }
        }
    }

    @Test("PostgreSQL answers every hot query through an index, chat memory from the tenant's partition only", arguments: queries)
    func postgresPlans(query: HotQuery) async throws {
        try await withTestDatabase(.postgres) { test in
            let sql = query.postgresSQL ?? query.sql
            let binds = query.binds
            let plan = try await test.database.withConnection { connection -> [String] in
                try connection.query("SET enable_seqscan = off")
                defer { _ = try? connection.query("RESET enable_seqscan") }
                return try connection.query("EXPLAIN " + sql, binds).map { try $0.string("QUERY PLAN") }
            }
            let text = plan.joined(separator: "\n")
            #expect(!text.contains("Seq Scan"), "\(text)")
            #expect(text.contains("Index"), "\(text)")
            if sql.contains("tenant_id = $1"), sql.contains("chat_memory") {
                // Partition pruning: one of the 16 partitions is read.
                let partitions = Set(plan.compactMap { line in
                    line.range(of: #"chat_memory_p\d\d"#, options: .regularExpression).map { String(line[$0]) }
                })
                #expect(partitions.count == 1, "\(text)")
            }
        }
    }
}
