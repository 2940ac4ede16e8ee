@testable import EnableBotCore
import Foundation
import Testing
import TestSupport

/// Issue 12: retention in batches under a lock one replica holds at a time, run by a service on a schedule.
// Serialized: the PostgreSQL cases share one advisory lock key (database-wide, not per schema), and one test holds it on
// purpose, which would make another case's run report "incomplete".
@Suite(.serialized) struct RetentionTests {
    static let day: TimeInterval = 86_400

    /// Rows on both sides of every cutoff, written at `clock`'s times.
    static func seed(_ database: any Database, clock: TestClock) async throws {
        let now = clock.now
        let events = ProcessedEvents(database: database, now: clock.function)
        let memory = ChatMemory(database: database, now: clock.function)
        // Done as a worker leaves them (claimed and completed), written directly: the lease is not what is tested here.
        func markDone(_ id: Int64) async throws {
            try await database.query("UPDATE jobs SET status = 'done', updated_at = $2 WHERE id = $1", [.integer(id), .from(clock.now)])
        }
        clock.set(now.addingTimeInterval(-40 * day))
        for i in 0..<23 { try await memory.append(tenantID: "T\(i % 3)", channelID: "C1", threadTS: "1.\(i)", turn: ChatTurn(role: .user, content: "old \(i)")) }
        clock.set(now.addingTimeInterval(-8 * day))
        for i in 0..<17 {
            let id = try #require(try await events.claimAndEnqueue(eventID: "EvOld\(i)", tenantID: "T1", kind: "k", payload: "{}"))
            if i < 12 { try await markDone(id) }  // 12 done long ago; 5 still queued (kept whatever their age)
        }
        clock.set(now.addingTimeInterval(-3600))
        for i in 0..<4 {
            let id = try #require(try await events.claimAndEnqueue(eventID: "EvNew\(i)", tenantID: "T1", kind: "k", payload: "{}"))
            try await markDone(id)
        }
        for i in 0..<6 { try await memory.append(tenantID: "T1", channelID: "C1", threadTS: "2.\(i)", turn: ChatTurn(role: .user, content: "new \(i)")) }
        // Assistant threads: 7 untouched for longer than chat memory is kept (30 days), 2 recent.
        let threads = AssistantThreads(database: database, now: clock.function)
        clock.set(now.addingTimeInterval(-31 * day))
        for i in 0..<7 { try await threads.save(tenantID: "T1", channelID: "D1", threadTS: "3.\(i)", userID: "U1", context: AssistantThreadContext()) }
        clock.set(now.addingTimeInterval(-29 * day))
        for i in 0..<2 { try await threads.save(tenantID: "T2", channelID: "D2", threadTS: "4.\(i)", userID: "U2", context: AssistantThreadContext()) }
        clock.set(now)
    }

    static func count(_ database: any Database, _ sql: String) async throws -> Int {
        try await database.queryFirst("SELECT COUNT(*) AS n FROM " + sql)?.int("n") ?? -1
    }

    @Test("a run removes what is past its retention, batch by batch, and keeps the rest", arguments: TestDatabaseKind.allCases)
    func removesExpiredRows(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            try await Self.seed(test.database, clock: clock)
            var policy = RetentionPolicy()
            policy.batchSize = 5
            let report = try await Retention(database: test.database, policy: policy, now: clock.function).run()
            #expect(report.complete)
            #expect(report.memoryExpired == 23)
            #expect(report.processedEvents == 17)
            #expect(report.doneJobs == 12)
            #expect(report.assistantThreads == 7)
            #expect(try await Self.count(test.database, "assistant_threads") == 2)
            #expect(try await Self.count(test.database, "chat_memory") == 6)
            #expect(try await Self.count(test.database, "chat_memory_archive") == 23)
            #expect(try await Self.count(test.database, "processed_events") == 4)
            #expect(try await Self.count(test.database, "jobs WHERE status = 'queued'") == 5)
            #expect(try await Self.count(test.database, "jobs WHERE status = 'done'") == 4)
            // The archive goes once it is past its own retention.
            clock.advance(by: 91 * Self.day)
            let later = try await Retention(database: test.database, policy: policy, now: clock.function).run()
            #expect(later.archivePurged == 23)
            #expect(later.memoryExpired == 6)
            #expect(try await Self.count(test.database, "chat_memory_archive") == 6)
        }
    }

    @Test("a replica that finds the retention lock taken leaves the work to the one holding it")
    func oneReplicaAtATime() async throws {
        try await withStack { stack in
            let test = try await stack.database(.postgres)
            let clock = TestClock()
            try await Self.seed(test.database, clock: clock)
            // Another replica in the middle of a batch: its connection holds the lock.
            let other = stack.own(try PostgresDatabase(url: test.url, poolSize: 1, logger: TestLog.logger)) { await $0.shutdown() }
            try await other.query("SELECT pg_advisory_lock($1)", [.integer(Retention.advisoryLockKey)])
            let blocked = try await Retention(database: test.database, now: clock.function).run()
            #expect(!blocked.complete)
            #expect(try await Self.count(test.database, "processed_events") == 21)
            try await other.query("SELECT pg_advisory_unlock($1)", [.integer(Retention.advisoryLockKey)])
            let report = try await Retention(database: test.database, now: clock.function).run()
            #expect(report.complete)
            #expect(report.processedEvents == 17)
        }
    }

    @Test("the service runs retention on its schedule", arguments: TestDatabaseKind.allCases)
    func serviceRunsOnSchedule(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            try await Self.seed(test.database, clock: clock)
            let service = RetentionService(
                retention: Retention(database: test.database, now: clock.function), interval: .milliseconds(20), logger: TestLog.logger)
            let running = Task { try await service.run() }
            let deadline = ContinuousClock.now + .seconds(10)
            while try await Self.count(test.database, "processed_events") != 4, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            running.cancel()
            try await running.value
            #expect(try await Self.count(test.database, "processed_events") == 4)
            #expect(try await Self.count(test.database, "chat_memory") == 6)
        }
    }

    @Test("migration 5 moves chat memory into 16 hash partitions by tenant, keeping every turn and the id sequence")
    func chatMemoryPartitioned() async throws {
        try await withTestDatabase(.postgres, migrate: false) { test in
            // The schema as it was before migration 5, with turns in it.
            try await test.database.transaction { connection in
                try connection.query(
                    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
                for migration in SchemaMigrations.all where migration.version < 5 {
                    for statement in migration.statements(.postgres) { try connection.query(statement) }
                    try connection.query("INSERT INTO schema_migrations VALUES ($1, $2, 0)", [.integer(Int64(migration.version)), .text(migration.name)])
                }
            }
            let memory = ChatMemory(database: test.database)
            for i in 0..<40 {
                try await memory.append(tenantID: "T\(i % 8)", channelID: "C", threadTS: "1.0", turn: ChatTurn(role: .user, content: "turn \(i)"))
            }
            let before = try await test.database.queryFirst("SELECT MAX(id) AS id FROM chat_memory")?.int64("id") ?? 0
            #expect(try await Migrator.migrate(test.database, logger: TestLog.logger) == Migrator.versions.filter { $0 >= 5 })

            let partitions = try await test.database.query(
                """
                SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
                WHERE p.relname = 'chat_memory' AND p.relnamespace = to_regnamespace(current_schema())::oid
                """
            )
            #expect(partitions.count == ChatMemoryPartitioning.partitions)
            #expect(try await Self.count(test.database, "chat_memory") == 40)
            let recent = try await memory.recent(tenantID: "T3", channelID: "C", threadTS: "1.0", maxTurns: 10, maxCharacters: 1000)
            #expect(recent.map(\.content) == ["turn 3", "turn 11", "turn 19", "turn 27", "turn 35"])
            try await memory.append(tenantID: "T3", channelID: "C", threadTS: "1.0", turn: ChatTurn(role: .assistant, content: "after"))
            let after = try await test.database.queryFirst("SELECT MAX(id) AS id FROM chat_memory")?.int64("id") ?? 0
            #expect(after > before)
            #expect(try await memory.recent(tenantID: "T3", channelID: "C", threadTS: "1.0", maxTurns: 1, maxCharacters: 100).map(\.content) == ["after"])
        }
    }
}
