import EnableBotCore
import Foundation
import Testing
import TestSupport

/// Issue 12: `enablebot backup` copies a live database; the copy restores with every token still opening.
@Suite struct BackupTests {
    static func installation(_ tenant: String) -> Installation {
        let now = Date()
        return Installation(
            tenantID: tenant, teamID: tenant, enterpriseID: nil, teamName: "Team \(tenant)", appID: "A1", botUserID: "UBOT",
            botID: "BBOT", scopes: "chat:write", installerUserID: "U1", installedAt: now, updatedAt: now)
    }

    static func tokens(_ tenant: String) -> InstallationTokens {
        InstallationTokens(botToken: "xoxb-\(tenant)", userToken: "xoxp-\(tenant)", refreshToken: "xoxe-\(tenant)")
    }

    /// Every installation in `store` opens with the cipher and holds the tokens it was saved with; returns how many.
    static func expectTokensOpen(_ store: InstallationStore) async throws -> Int {
        let all = try await store.all()
        for tenant in all {
            #expect(try await store.tokens(tenantID: tenant.tenantID) == tokens(tenant.tenantID), "\(tenant.tenantID)")
        }
        return all.count
    }

    @Test("SQLite: VACUUM INTO while another connection keeps writing; the copy restores and every token opens")
    func sqliteUnderLoad() async throws {
        try await withStack { stack in
            let test = try await stack.database(.sqlite)
            let sqlite = try #require(test.database as? SQLiteDatabase)
            let cipher = try TokenCipher(keys: [EncryptionKey.generate(id: "k1")])
            let store = InstallationStore(database: test.database, cipher: cipher)
            for i in 0..<300 { try await store.save(Self.installation("TA\(i)"), tokens: Self.tokens("TA\(i)")) }
            let memory = ChatMemory(database: test.database)
            for i in 0..<2_000 {
                try await memory.append(tenantID: "TA\(i % 300)", channelID: "C", threadTS: "1.0", turn: ChatTurn(role: .user, content: String(repeating: "x", count: 200)))
            }

            // A second connection to the file, as another process would have, writing throughout the backup.
            let writerDatabase = stack.own(try DatabaseFactory.open(url: test.url, poolSize: 1, logger: TestLog.logger)) { await $0.shutdown() }
            let writerStore = InstallationStore(database: writerDatabase, cipher: cipher)
            let writerMemory = ChatMemory(database: writerDatabase)
            let writer = Task { () throws -> Int in
                var written = 0
                do {
                    while !Task.isCancelled {
                        try await writerStore.save(Self.installation("TW\(written)"), tokens: Self.tokens("TW\(written)"))
                        try await writerMemory.append(tenantID: "TW\(written)", channelID: "C", threadTS: "1.0", turn: ChatTurn(role: .user, content: "during"))
                        written += 1
                    }
                } catch is CancellationError {}  // stopped while waiting for the connection
                return written
            }
            while try await store.find(tenantID: "TW3") == nil { try await Task.sleep(for: .milliseconds(5)) }
            let backup = TestPaths.temporaryDirectory() + "/backup.sqlite"
            try await DatabaseBackup.sqlite(sqlite, to: backup)
            try await Task.sleep(for: .milliseconds(50))
            writer.cancel()
            let written = try await writer.value
            #expect(written > 3)
            await #expect(throws: DatabaseBackup.Failure.self) { try await DatabaseBackup.sqlite(sqlite, to: backup) }

            // Restore: the file where a fresh DATABASE_URL points, opened and migrated as a service would.
            let restoredPath = TestPaths.temporaryDirectory() + "/restored.sqlite"
            try FileManager.default.copyItem(atPath: backup, toPath: restoredPath)
            let restored = stack.own(try DatabaseFactory.open(url: "sqlite:" + restoredPath, poolSize: 1, logger: TestLog.logger)) {
                await $0.shutdown()
            }
            try await Migrator.migrate(restored, logger: TestLog.logger)
            #expect(try await restored.queryFirst("PRAGMA integrity_check")?.string("integrity_check") == "ok")
            let count = try await Self.expectTokensOpen(InstallationStore(database: restored, cipher: cipher))
            #expect(count >= 304)
            #expect(count <= 300 + written + 1, "the copy holds no more than was written")
            #expect(try await restored.queryFirst("SELECT COUNT(*) AS n FROM chat_memory")?.int("n") ?? 0 >= 2_000)
        }
    }

    @Test("PostgreSQL: pg_dump --format=custom, pg_restore into a fresh database, every token opens")
    func postgresDumpAndRestore() async throws {
        let environment = ProcessInfo.processInfo.environment
        let bin = try #require(
            environment["ENABLEBOT_TEST_PG_BIN"] ?? DatabaseBackup.executable("pg_dump").map { ($0 as NSString).deletingLastPathComponent },
            "ENABLEBOT_TEST_PG_BIN (source scripts/test-services.sh) or pg_dump on PATH")
        try await withStack { stack in
            let test = try await stack.database(.postgres)
            let cipher = try TokenCipher(keys: [EncryptionKey.generate(id: "k1")])
            let store = InstallationStore(database: test.database, cipher: cipher)
            for i in 0..<50 { try await store.save(Self.installation("TP\(i)"), tokens: Self.tokens("TP\(i)")) }
            try await ChatMemory(database: test.database).append(tenantID: "TP1", channelID: "C", threadTS: "1.0", turn: ChatTurn(role: .user, content: "hi"))

            let schema = try #require(test.url.components(separatedBy: "search_path%3D").last)
            let dump = TestPaths.temporaryDirectory() + "/backup.dump"
            try DatabaseBackup.postgres(url: test.url, to: dump, pgDump: bin + "/pg_dump", extraArguments: ["--schema", schema])
            #expect(throws: DatabaseBackup.Failure.self) {
                try DatabaseBackup.postgres(url: test.url, to: dump, pgDump: bin + "/pg_dump", extraArguments: ["--schema", schema])
            }

            let base = try PostgresTestServer.baseURL()
            let name = "restore_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
            let admin = stack.own(try PostgresDatabase(url: base, poolSize: 1, logger: TestLog.logger)) { await $0.shutdown() }
            try await admin.query("CREATE DATABASE \(name)")
            let freshBase = base.replacingOccurrences(of: "/postgres?", with: "/\(name)?")
            let restore = Process()
            restore.executableURL = URL(fileURLWithPath: bin + "/pg_restore")
            restore.arguments = ["--no-owner", "--exit-on-error", "--dbname", freshBase, dump]
            try restore.runSerialized()
            restore.waitUntilExit()
            #expect(restore.terminationStatus == 0)

            let restoredURL = freshBase + "&options=-csearch_path%3D\(schema)"
            let restored = try PostgresDatabase(url: restoredURL, poolSize: 2, logger: TestLog.logger)
            stack.onExit {
                await restored.shutdown()
                _ = try? await admin.query("DROP DATABASE IF EXISTS \(name)")
            }
            #expect(try await Migrator.migrate(restored, logger: TestLog.logger) == [])
            let count = try await Self.expectTokensOpen(InstallationStore(database: restored, cipher: cipher))
            #expect(count == 50)
            let turns = try await ChatMemory(database: restored).recent(tenantID: "TP1", channelID: "C", threadTS: "1.0", maxTurns: 5, maxCharacters: 100)
            #expect(turns.map(\.content) == ["hi"])
            // The restored sequence continues after the copied ids.
            try await ChatMemory(database: restored).append(tenantID: "TP1", channelID: "C", threadTS: "1.0", turn: ChatTurn(role: .assistant, content: "again"))
        }
    }
}
