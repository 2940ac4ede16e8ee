import EnableBotCore
import Foundation
import Testing
import TestSupport

@Suite("Storage copy")
struct StorageCopierTests {
    @Test("SQLite → PostgreSQL copies every table, verifies counts, keeps tokens readable and ids moving on")
    func sqliteToPostgres() async throws {
        try await withStack { stack in
            let source = try await stack.database(.sqlite)
            let target = try await stack.database(.postgres, migrate: false)
            let cipher = try TokenCipher(keys: [EncryptionKey.generate(id: "k1")])
            let installations = InstallationStore(database: source.database, cipher: cipher)
            for tenant in ["T1", "T2", "T3"] {
                try await installations.save(StoreTests.installation(tenant, at: Date()), tokens: InstallationTokens(botToken: "xoxb-\(tenant)"))
            }
            let audit = AuditLog(database: source.database)
            for index in 0..<7 { try await audit.record(tenantID: "T1", actor: "test", action: "a\(index)") }
            let memory = ChatMemory(database: source.database)
            for index in 0..<1200 {
                try await memory.append(tenantID: "T1", channelID: "C", threadTS: "1.0", turn: ChatTurn(role: .user, content: "m\(index)"))
            }
            try await ProcessedEvents(database: source.database).claimAndEnqueue(eventID: "Ev1", tenantID: "T1", kind: "event", payload: "{}")
            try await UsageCounters(database: source.database).increment(tenantID: "T1", .events)

            let copier = StorageCopier(source: source.database, target: target.database, logger: TestLog.logger)
            let dryRun = try await copier.copy(dryRun: true)
            #expect(dryRun.first { $0.table == "chat_memory" }?.sourceRows == 1200)
            #expect(dryRun.allSatisfy { $0.targetRows == 0 })

            let reports = try await copier.copy(dryRun: false)
            for report in reports { #expect(report.sourceRows == report.targetRows, "\(report.table)") }
            #expect(reports.first { $0.table == "installations" }?.targetRows == 3)
            #expect(reports.first { $0.table == "audit_log" }?.targetRows == 7)

            let copied = InstallationStore(database: target.database, cipher: cipher)
            #expect(try await copied.tokens(tenantID: "T2")?.botToken == "xoxb-T2")
            // Identity sequences continue after the copied ids instead of colliding with them.
            try await AuditLog(database: target.database).record(tenantID: "T1", actor: "test", action: "after-copy")
            #expect(try await AuditLog(database: target.database).recent(limit: 1).first?.id == 8)

            // Re-running is harmless: rows already there are kept, counts still match.
            let again = try await copier.copy(dryRun: false)
            #expect(again.first { $0.table == "chat_memory" }?.targetRows == 1200)
        }
    }
}
