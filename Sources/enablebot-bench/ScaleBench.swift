import EnableBotCore
import Foundation
import Logging

/// `enablebot-bench scale`: how long retention and a backup take at volume (README, "Scaling").
enum ScaleBench {
    static func run(installations: Int, turns: Int, backupPath: String) async throws {
        let settings: Settings
        do { settings = try Settings.load(service: .cli) } catch { Logging.fail(service: .cli, error.description) }
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let backends = try await Backends.open(settings: settings, logger: logger)
        let database = backends.database
        let stores = Stores(database: database, cipher: try TokenCipher(keys: settings.encryptionKeys))
        try await backends.prepare(keys: stores.keys, keyIDs: settings.encryptionKeys.map(\.id), logger: logger)

        let now = Date()
        var clock = ContinuousClock.now
        // Installations through the store, eight at a time, so each token is sealed as in production.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<8 {
                group.addTask {
                    for index in stride(from: lane, to: installations, by: 8) {
                        let id = String(format: "TS%06d", index)
                        try await stores.installations.save(
                            Installation(
                                tenantID: id, teamID: id, enterpriseID: nil, teamName: "Scale \(id)", appID: "ASCALE",
                                botUserID: "UBOT", botID: "BBOT", scopes: "chat:write", installerUserID: "U1",
                                installedAt: now, updatedAt: now),
                            tokens: InstallationTokens(botToken: "xoxb-\(id)", refreshToken: "xoxe-\(id)", expiresAt: now.addingTimeInterval(43_200)))
                    }
                }
            }
            try await group.waitForAll()
        }
        report("seed \(installations) installations", since: clock)

        // Bulk rows generated in the database, in chunks: half of each table older than its retention.
        clock = ContinuousClock.now
        let day: Int64 = 86_400_000
        let nowMS = Int64(now.timeIntervalSince1970 * 1000)
        let chunk = 100_000
        for (total, insert) in [
            (turns, """
                INSERT INTO chat_memory (tenant_id, channel_id, thread_ts, role, content, created_at)
                SELECT 'TS' || (x % \(max(1, installations))), 'C' || (x % 7), '1700000000.' || (x % 500), 'user',
                    'a remembered turn of about eighty characters, as a short question to the model is', CAST($1 AS BIGINT) - (x % 2) * \(40 * day) - x
                FROM g
                """),
            (turns / 10, """
                INSERT INTO processed_events (event_id, tenant_id, received_at)
                SELECT 'EvScale' || (CAST($2 AS BIGINT) + x), 'TS' || (x % \(max(1, installations))), CAST($1 AS BIGINT) - (x % 2) * \(2 * day) - x FROM g
                """),
            (turns / 10, """
                INSERT INTO jobs (kind, tenant_id, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
                SELECT 'answer', 'TS' || (x % \(max(1, installations))), '{}', 'done', 1, 5,
                    CAST($1 AS BIGINT) - (x % 2) * \(8 * day) - x, CAST($1 AS BIGINT) - (x % 2) * \(8 * day) - x, CAST($1 AS BIGINT) - (x % 2) * \(8 * day) - x FROM g
                """),
        ] {
            var done = 0
            while done < total {
                let count = min(chunk, total - done)
                let series = database.dialect == .postgres
                    ? "WITH g(x) AS (SELECT generate_series(1, \(count))) "
                    : "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < \(count)) "
                // Only the event ids need the chunk's offset (SQLite refuses a value bound to no parameter).
                let binds: [SQLValue] = insert.contains("$2") ? [.integer(nowMS), .integer(Int64(done))] : [.integer(nowMS)]
                try await database.query(series + insert, binds)
                done += count
            }
        }
        report("seed \(turns) turns, \(turns / 10) event ids, \(turns / 10) done jobs", since: clock)

        clock = ContinuousClock.now
        let result = try await Retention(database: database).run()
        report(
            "retention run: \(result.memoryExpired) turns archived, \(result.processedEvents) event ids, \(result.doneJobs) jobs",
            since: clock)

        clock = ContinuousClock.now
        if let sqlite = database as? SQLiteDatabase {
            try await DatabaseBackup.sqlite(sqlite, to: backupPath)
        } else if let pgDump = DatabaseBackup.executable("pg_dump") {
            try DatabaseBackup.postgres(url: settings.databaseURL, to: backupPath, pgDump: pgDump)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: backupPath)[.size] as? Int) ?? 0
        report("backup (\(size / 1_000_000) MB)", since: clock)
        await backends.shutdown()
    }

    static func report(_ what: String, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "%8.2f s  ", seconds) + what)
    }
}
