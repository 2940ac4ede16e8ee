import EnableBotCore
import Testing
import TestSupport

@Suite("Migrations")
struct MigrationTests {
    @Test("fresh database gets every migration; a re-run applies nothing", arguments: TestDatabaseKind.allCases)
    func freshAndRerun(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind, migrate: false) { test in
            let first = try await Migrator.migrate(test.database, logger: TestLog.logger)
            #expect(first == Migrator.versions)
            let second = try await Migrator.migrate(test.database, logger: TestLog.logger)
            #expect(second.isEmpty)
            let versions = try await test.database.query("SELECT version FROM schema_migrations ORDER BY version")
            #expect(try versions.map { try $0.int("version") } == Migrator.versions)
            for table in ["installations", "oauth_states", "processed_events", "jobs", "chat_memory", "audit_log",
                          "usage_counters", "encryption_keys", "chat_memory_archive"] {
                let count = try await test.database.queryFirst("SELECT COUNT(*) AS n FROM \(table)")
                #expect(try count?.int("n") == 0, "table \(table)")
            }
        }
    }

    @Test("several instances migrating at once do not race", arguments: TestDatabaseKind.allCases)
    func concurrentMigrations(kind: TestDatabaseKind) async throws {
        try await withStack { stack in
            let test = try await stack.database(kind, migrate: false)
            // Separate Database objects stand in for separate processes: separate connections and pools.
            var instances: [any Database] = []
            for _ in 0..<4 {
                let instance = try DatabaseFactory.open(url: test.url, poolSize: 2, logger: TestLog.logger)
                instances.append(stack.own(instance) { await $0.shutdown() })
            }
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for instance in instances {
                    group.addTask { try await Migrator.migrate(instance, logger: TestLog.logger) }
                }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(applied.sorted() == Migrator.versions)
        }
    }
}
