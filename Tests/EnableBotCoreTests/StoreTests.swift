import EnableBotCore
import Foundation
import Synchronization
import Testing
import TestSupport

/// One suite per store, each run against SQLite and PostgreSQL so the backends cannot drift apart.
@Suite("Stores")
struct StoreTests {
    static func cipher() throws -> TokenCipher { try TokenCipher(keys: [EncryptionKey.generate(id: "k1")]) }

    static func installation(_ tenant: String, at date: Date, enterprise: String? = nil, orgWide: Bool = false) -> Installation {
        Installation(
            tenantID: tenant, teamID: orgWide ? nil : tenant, enterpriseID: enterprise, isEnterpriseInstall: orgWide,
            teamName: "Team \(tenant)", appID: "A1", botUserID: "UBOT", botID: "BBOT", scopes: "chat:write",
            installerUserID: "UINSTALLER", installedAt: date, updatedAt: date
        )
    }

    @Test("installations: save, find, reinstall keeps settings, tokens sealed", arguments: TestDatabaseKind.allCases)
    func installations(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            let store = InstallationStore(database: test.database, cipher: try Self.cipher(), now: clock.function)
            let tokens = InstallationTokens(botToken: "xoxb-plain-bot", userToken: "xoxp-plain-user", refreshToken: "xoxe-refresh",
                                            expiresAt: clock.now.addingTimeInterval(43_200))
            try await store.save(Self.installation("T1", at: clock.now), tokens: tokens)
            var found = try #require(try await store.find(tenantID: "T1"))
            #expect(found.teamName == "Team T1")
            #expect(found.status == .active)
            #expect(try await store.tokens(tenantID: "T1") == tokens)

            try await store.updateSettings(tenantID: "T1", settings: TenantSettings(
                model: "gpt-x", systemPrompt: "Be brief.", rateLimit: RateLimitSpec(limit: 5, windowSeconds: 60)))
            try await store.deactivateAndDeleteTokens(tenantID: "T1")
            found = try #require(try await store.find(tenantID: "T1"))
            #expect(found.status == .inactive)
            #expect(try await store.tokens(tenantID: "T1") == InstallationTokens(botToken: nil))

            // Reinstall: active again, new tokens, settings kept.
            clock.advance(by: 60)
            var again = Self.installation("T1", at: clock.now)
            again.teamName = "Renamed"
            try await store.save(again, tokens: InstallationTokens(botToken: "xoxb-second"))
            found = try #require(try await store.find(tenantID: "T1"))
            #expect(found.status == .active)
            #expect(found.teamName == "Renamed")
            #expect(found.settings.model == "gpt-x")
            #expect(found.settings.rateLimit == RateLimitSpec(limit: 5, windowSeconds: 60))
            #expect(try await store.tokens(tenantID: "T1")?.botToken == "xoxb-second")

            // No column holds a plaintext token.
            let rows = try await test.database.query("SELECT * FROM installations")
            for row in rows {
                for value in row.values {
                    if case .text(let text) = value { #expect(!text.contains("xoxb-"), "plaintext token in a column") }
                }
            }
            #expect(try await store.find(tenantID: "T404") == nil)
        }
    }

    @Test("installations: a ciphertext copied to another row does not open", arguments: TestDatabaseKind.allCases)
    func swappedRow(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let store = InstallationStore(database: test.database, cipher: try Self.cipher())
            try await store.save(Self.installation("TA", at: Date()), tokens: InstallationTokens(botToken: "xoxb-a"))
            try await store.save(Self.installation("TB", at: Date()), tokens: InstallationTokens(botToken: "xoxb-b"))
            try await test.database.query(
                "UPDATE installations SET bot_token_ciphertext = (SELECT bot_token_ciphertext FROM installations WHERE tenant_id = 'TA') WHERE tenant_id = 'TB'"
            )
            await #expect(throws: CipherError.self) { try await store.tokens(tenantID: "TB") }
            #expect(try await store.tokens(tenantID: "TA")?.botToken == "xoxb-a")
        }
    }

    @Test("installations: hundreds of concurrent reads with tokens each get their own tenant's row",
          arguments: TestDatabaseKind.allCases)
    func concurrentReadsWithTokens(kind: TestDatabaseKind) async throws {
        // Concurrent reads are what `findWithTokens` answers many to a statement: this checks each read still gets its
        // own row (resuming a batch's waiters with the wrong key's row fails it).
        try await withTestDatabase(kind) { test in
            let store = InstallationStore(database: test.database, cipher: try Self.cipher())
            let tenants = (0..<40).map { "T\($0)" }
            for tenant in tenants {
                try await store.save(Self.installation(tenant, at: Date()), tokens: InstallationTokens(botToken: "xoxb-\(tenant)"))
            }
            // TBAD's bot token is T0's ciphertext: it must fail to open for TBAD alone, not for the reads beside it.
            try await store.save(Self.installation("TBAD", at: Date()), tokens: InstallationTokens(botToken: "xoxb-bad"))
            try await test.database.query(
                "UPDATE installations SET bot_token_ciphertext = (SELECT bot_token_ciphertext FROM installations WHERE tenant_id = 'T0') WHERE tenant_id = 'TBAD'"
            )
            let asked = (0..<400).map { index in
                switch index % 10 {
                case 7: "TBAD"
                case 8: "TMISSING\(index % 3)"
                default: tenants[(index * 7) % tenants.count]
                }
            }
            let mismatches = try await withThrowingTaskGroup(of: String?.self) { group in
                for tenant in asked {
                    group.addTask {
                        let found = try await store.findWithTokens(tenantID: tenant)
                        if tenant.hasPrefix("TMISSING") { return found == nil ? nil : "\(tenant): found a row" }
                        guard let found else { return "\(tenant): not found" }
                        guard found.installation.tenantID == tenant else { return "\(tenant): got \(found.installation.tenantID)" }
                        switch (tenant, found.tokens) {
                        case ("TBAD", .failure(let error)) where error is CipherError: return nil
                        case ("TBAD", _): return "TBAD: its token opened"
                        case (_, .success(let tokens)) where tokens.botToken == "xoxb-\(tenant)": return nil
                        default: return "\(tenant): wrong or failed token"
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { if let mismatch = $1 { $0.append(mismatch) } }
            }
            let wrong = mismatches.count
            #expect(wrong == 0, "of \(asked.count) reads, the first wrong: \(mismatches.prefix(5))")
        }
    }

    @Test("installations: org-wide installs authorize events of their teams", arguments: TestDatabaseKind.allCases)
    func authorize(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let store = InstallationStore(database: test.database, cipher: try Self.cipher())
            try await store.save(Self.installation("E1", at: Date(), enterprise: "E1", orgWide: true), tokens: InstallationTokens(botToken: "xoxb-org"))
            try await store.save(Self.installation("T2", at: Date()), tokens: InstallationTokens(botToken: "xoxb-t2"))
            #expect(try await store.authorize(teamID: "T9", enterpriseID: "E1", isEnterpriseInstall: true)?.tenantID == "E1")
            #expect(try await store.authorize(teamID: "T9", enterpriseID: "E1", isEnterpriseInstall: false)?.tenantID == "E1")
            #expect(try await store.authorize(teamID: "T2", enterpriseID: nil, isEnterpriseInstall: false)?.tenantID == "T2")
            #expect(try await store.authorize(teamID: "T3", enterpriseID: nil, isEnterpriseInstall: false) == nil)
        }
    }

    @Test("installations: key rotation re-seals with the active key, old values still open", arguments: TestDatabaseKind.allCases)
    func keyRotation(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let old = EncryptionKey.generate(id: "old")
            let new = EncryptionKey.generate(id: "new")
            try await InstallationStore(database: test.database, cipher: try TokenCipher(keys: [old]))
                .save(Self.installation("T1", at: Date()), tokens: InstallationTokens(botToken: "xoxb-1", refreshToken: "xoxe-1"))
            let rotated = InstallationStore(database: test.database, cipher: try TokenCipher(keys: [new, old]))
            #expect(try await rotated.tokens(tenantID: "T1")?.botToken == "xoxb-1")
            #expect(try await rotated.reencryptAll() == 2)
            #expect(try await rotated.reencryptAll() == 0)
            let newOnly = InstallationStore(database: test.database, cipher: try TokenCipher(keys: [new]))
            #expect(try await newOnly.tokens(tenantID: "T1")?.refreshToken == "xoxe-1")
        }
    }

    @Test("installations: key rotation racing token refreshes keeps every refreshed token", arguments: TestDatabaseKind.allCases)
    func keyRotationRacesRefresh(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let old = EncryptionKey.generate(id: "old")
            let new = EncryptionKey.generate(id: "new")
            let tenants = (0..<400).map { "T\($0)" }
            let before = InstallationStore(database: test.database, cipher: try TokenCipher(keys: [old]))
            for tenant in tenants {
                try await before.save(Self.installation(tenant, at: Date()), tokens: InstallationTokens(
                    botToken: "xoxb-\(tenant)-0", userToken: "xoxp-\(tenant)", refreshToken: "xoxe-\(tenant)-0"))
            }
            // The rotated services refresh tokens (sealed with the new key) while `keys rotate` runs. Each refresher owns
            // a quarter of the tenants, so the last value it wrote for a tenant is the one that must open afterwards.
            let cipher = try TokenCipher(keys: [new, old])
            let rotated = InstallationStore(database: test.database, cipher: cipher)
            let rotationDone = DoneFlag()
            let rotating = Task {
                defer { rotationDone.set() }
                return try await rotated.reencryptAll()
            }
            let latest = try await withThrowingTaskGroup(of: [String: Int].self) { group in
                for part in 0..<4 {
                    group.addTask {
                        var written: [String: Int] = [:]
                        var round = 1
                        // Refresh until the rotation is done (and no longer: a later refresh would hide a lost one).
                        while !rotationDone.isSet {
                            // Last tenant first: against the rotation's order, so refreshes land on rows it has yet to reach.
                            for (index, tenant) in tenants.enumerated().reversed() where index % 4 == part {
                                if rotationDone.isSet { break }
                                try await rotated.updateTokens(tenantID: tenant, botToken: "xoxb-\(tenant)-\(round)",
                                                               refreshToken: "xoxe-\(tenant)-\(round)", expiresAt: nil)
                                written[tenant] = round
                            }
                            round += 1
                        }
                        return written
                    }
                }
                return try await group.reduce(into: [String: Int]()) { $0.merge($1) { $1 } }
            }
            _ = try await rotating.value
            _ = try await rotated.reencryptAll()
            var lost: [String] = []
            for tenant in tenants {
                let round = latest[tenant] ?? 0
                let tokens = try await rotated.tokens(tenantID: tenant)
                if tokens?.botToken != "xoxb-\(tenant)-\(round)" || tokens?.refreshToken != "xoxe-\(tenant)-\(round)"
                    || tokens?.userToken != "xoxp-\(tenant)" { lost.append(tenant) }
            }
            #expect(lost.count == 0, "refreshed tokens overwritten by the rotation, e.g. \(lost.prefix(5))")
            // Everything is on the new key: it alone opens every value, and no ciphertext names the old one.
            let newOnly = InstallationStore(database: test.database, cipher: try TokenCipher(keys: [new]))
            for tenant in tenants { _ = try await newOnly.tokens(tenantID: tenant) }
            for row in try await test.database.query(
                "SELECT bot_token_ciphertext, user_token_ciphertext, refresh_token_ciphertext FROM installations"
            ) {
                for case .text(let sealed) in row.values { #expect(try cipher.keyID(of: sealed) == "new") }
            }
        }
    }

    @Test("oauth state: single use, expiry, purpose", arguments: TestDatabaseKind.allCases)
    func oauthStates(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            let store = OAuthStateStore(database: test.database, now: clock.function)
            let state = try await store.issue(purpose: "install")
            #expect(state.count >= 22)
            #expect(try await store.consume(state, purpose: "signin") == .unknown)
            #expect(try await store.consume(state, purpose: "install") == .valid)
            #expect(try await store.consume(state, purpose: "install") == .alreadyUsed)
            #expect(try await store.consume("never-issued", purpose: "install") == .unknown)

            let late = try await store.issue(purpose: "install")
            clock.advance(by: 599)
            let onTime = try await store.issue(purpose: "install")
            clock.advance(by: 2)
            #expect(try await store.consume(late, purpose: "install") == .expired)
            #expect(try await store.consume(onTime, purpose: "install") == .valid)
        }
    }

    @Test("oauth state: 16 concurrent consumers, exactly one wins", arguments: TestDatabaseKind.allCases)
    func oauthStateRace(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let store = OAuthStateStore(database: test.database)
            let state = try await store.issue(purpose: "install")
            let outcomes = try await withThrowingTaskGroup(of: OAuthStateOutcome.self) { group in
                for _ in 0..<16 { group.addTask { try await store.consume(state, purpose: "install") } }
                return try await group.reduce(into: [OAuthStateOutcome]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .valid }.count == 1)
            #expect(outcomes.filter { $0 == .alreadyUsed }.count == 15)
        }
    }

    @Test("audit log: newest first, filters", arguments: TestDatabaseKind.allCases)
    func auditLog(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let log = AuditLog(database: test.database)
            try await log.record(tenantID: "T1", actor: "slack", action: "install", detail: "by U1")
            try await log.record(tenantID: "T2", actor: "operator", action: "settings", detail: "model")
            try await log.record(tenantID: nil, actor: "cli", action: "keys.rotate")
            let all = try await log.recent()
            #expect(all.map(\.action) == ["keys.rotate", "settings", "install"])
            #expect(try await log.recent(tenantID: "T1").map(\.detail) == ["by U1"])
            #expect(try await log.recent(action: "settings").map(\.tenantID) == ["T2"])
            #expect(try await log.recent(before: all[0].id, limit: 1).map(\.action) == ["settings"])
            #expect(try await log.actions() == ["install", "keys.rotate", "settings"])
        }
    }

    @Test("jobs: lease, complete, retry with backoff, dead after max attempts", arguments: TestDatabaseKind.allCases)
    func jobs(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            let queue = JobQueue(database: test.database, now: clock.function)
            let first = try await queue.enqueue(kind: "event", tenantID: "T1", payload: "{}", maxAttempts: 2)
            let second = try await queue.enqueue(kind: "event", tenantID: "T1", payload: "{\"n\":2}", maxAttempts: 2)
            var claimed = try await queue.claim(limit: 10, lease: 30)
            #expect(claimed.map(\.id) == [first, second])
            #expect(try await queue.claim(limit: 10, lease: 30).isEmpty)  // leased
            try await queue.complete(claimed[0])
            #expect(try await queue.fail(claimed[1], error: "model down", retryAfter: 5) == .queued)
            #expect(try await queue.claim(limit: 10, lease: 30).isEmpty)  // backing off
            clock.advance(by: 6)
            claimed = try await queue.claim(limit: 10, lease: 30)
            #expect(claimed.map(\.attempts) == [2])
            #expect(try await queue.fail(claimed[0], error: "model down", retryAfter: 5) == .dead)
            #expect(try await queue.dead().map(\.lastError) == ["model down"])
            #expect(try await queue.count(status: .done) == 1)
        }
    }

    @Test("jobs: a worker whose lease was taken over can neither finish, fail, renew, save nor free the job",
          arguments: TestDatabaseKind.allCases)
    func leaseOwnership(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            let queue = JobQueue(database: test.database, now: clock.function)
            try await queue.enqueue(kind: "event", tenantID: "T1", payload: "{}")
            let slow = try #require(try await queue.claim(limit: 1, lease: 15).first)
            clock.advance(by: 16)
            let taker = try #require(try await queue.claim(limit: 1, lease: 15).first)
            #expect(taker.id == slow.id && taker.leaseToken != slow.leaseToken && taker.attempts == 2)

            await #expect(throws: LeaseLost.self) { try await queue.complete(slow) }
            await #expect(throws: LeaseLost.self) { try await queue.fail(slow, error: "late", retryAfter: 0) }
            await #expect(throws: LeaseLost.self) { try await queue.release(slow) }
            await #expect(throws: LeaseLost.self) { try await queue.saveReply(slow, reply: "stale", remembered: true) }
            await #expect(throws: LeaseLost.self) { try await queue.markPosted(slow, ts: "1.1") }
            let exchange = { (answer: String) in
                ChatExchange(tenantID: "T1", channelID: "C1", threadTS: "9.9", question: "q?", answer: answer, at: clock.now)
            }
            await #expect(throws: LeaseLost.self) { try await queue.finish(slow, postedTS: "1.1", remembering: nil) }
            await #expect(throws: LeaseLost.self) { try await queue.finish(slow, postedTS: "1.1", remembering: exchange("stale")) }
            #expect(try await queue.renew([slow], lease: 15) == [slow.id])
            // None of that touched the job: the new holder's lease and progress stand.
            #expect(try await queue.claim(limit: 1, lease: 15).isEmpty)
            try await queue.saveReply(taker, reply: "fresh", remembered: false)
            #expect(try await queue.renew([taker], lease: 15).isEmpty)
            try await queue.finish(taker, postedTS: "2.2", remembering: exchange("fresh"))
            let row = try #require(try await test.database.queryFirst("SELECT status, reply, posted_ts FROM jobs"))
            #expect(try row.string("status") == "done" && row.optionalString("reply") == "fresh" && row.optionalString("posted_ts") == "2.2")
            // Only the holder's finish kept the exchange, question first.
            let turns = try await ChatMemory(database: test.database)
                .recent(tenantID: "T1", channelID: "C1", threadTS: "9.9", maxTurns: 10, maxCharacters: 1000)
            #expect(turns == [ChatTurn(role: .user, content: "q?"), ChatTurn(role: .assistant, content: "fresh")])
            // Finished is finished: no second finish, and no second pair of turns.
            await #expect(throws: LeaseLost.self) { try await queue.finish(taker, postedTS: "2.2", remembering: exchange("again")) }
            #expect(try await test.database.queryFirst("SELECT COUNT(*) AS n FROM chat_memory")?.int("n") == 2)
        }
    }

    @Test("jobs: many workers saving and finishing at once, stale leases among them, each get their own outcome",
          arguments: TestDatabaseKind.allCases)
    func concurrentWorkerWrites(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            let queue = JobQueue(database: test.database, now: clock.function)
            for index in 0..<120 { try await queue.enqueue(kind: "event", tenantID: "T\(index % 4)", payload: "{}") }
            let claimed = try await queue.claim(limit: 120, lease: 15)
            #expect(claimed.count == 120)
            // What PostgreSQL's batches carry as array elements: quotes, backslashes, braces, commas, newlines, Unicode.
            let text: @Sendable (Int) -> String = { index in "answer \(index): {\"a\", \\b} 'c', NULL\nd ✓ 日本" }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, job) in claimed.enumerated() {
                    group.addTask {
                        // Every fifth has lost its lease before saving, every seventh (the rest of them) before finishing.
                        var job = job
                        if index % 5 == 0 { job.leaseToken = "taken-over" }
                        let exchange = index % 2 == 0
                            ? ChatExchange(tenantID: job.tenantID, channelID: "C1", threadTS: "t\(index)", question: "q\(index) \"?\"",
                                           answer: text(index), at: clock.now)
                            : nil
                        do {
                            try await queue.saveReply(job, reply: text(index), remembered: exchange != nil)
                            #expect(index % 5 != 0, "job \(index): a stale lease's save must be refused")
                            if index % 7 == 0 { job.leaseToken = "taken-over" }
                            try await queue.finish(job, postedTS: index % 3 == 0 ? nil : "1.\(index)", remembering: exchange)
                            #expect(index % 5 != 0 && index % 7 != 0, "job \(index): a stale lease's finish must be refused")
                        } catch is LeaseLost {
                            #expect(index % 5 == 0 || index % 7 == 0, "job \(index): its own lease's writes must be stored")
                        }
                    }
                }
                try await group.waitForAll()
            }
            let memory = ChatMemory(database: test.database)
            for (index, job) in claimed.enumerated() {
                let row = try #require(try await test.database.queryFirst(
                    "SELECT status, reply, reply_remembered, posted_ts, lease_token FROM jobs WHERE id = $1", [.integer(job.id)]))
                let turns = try await memory.recent(tenantID: job.tenantID, channelID: "C1", threadTS: "t\(index)", maxTurns: 10,
                                                    maxCharacters: 10_000)
                if index % 5 == 0 || index % 7 == 0 {
                    // Still leased to its holder, not finished, no memory; saved only while the lease was the writer's.
                    #expect(try row.string("status") == "queued", "job \(index)")
                    #expect(row.optionalString("reply") == (index % 5 == 0 ? nil : text(index)), "job \(index)")
                    #expect(row.optionalString("lease_token") == job.leaseToken && turns.isEmpty, "job \(index)")
                    continue
                }
                #expect(try row.string("status") == "done" && row.optionalString("reply") == text(index), "job \(index)")
                #expect(row.optionalInt64("reply_remembered") == (index % 2 == 0 ? 1 : 0), "job \(index)")
                #expect(row.optionalString("posted_ts") == (index % 3 == 0 ? nil : "1.\(index)"), "job \(index)")
                #expect(turns == (index % 2 == 0
                    ? [ChatTurn(role: .user, content: "q\(index) \"?\""), ChatTurn(role: .assistant, content: text(index))] : []),
                    "job \(index)")
            }
            #expect(try await test.database.queryFirst("SELECT COUNT(*) AS n FROM chat_memory")?.int("n") == 2 * 41)
        }
    }

    @Test("jobs: heartbeats and batched writes over the same jobs at once never deadlock", arguments: TestDatabaseKind.allCases)
    func heartbeatBesideBatchedWrites(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let queue = JobQueue(database: test.database)
            for index in 0..<300 { try await queue.enqueue(kind: "event", tenantID: "T\(index % 8)", payload: "{}") }
            let jobs = try await queue.claim(limit: 300, lease: 60)
            #expect(jobs.count == 300)
            // Each side would lock the same rows in an order of its own (the heartbeat's snapshot of a dictionary, the
            // workers' finishing order) unless every many-row write takes them in id order: a deadlock is an error here.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask { _ = try await queue.renew(jobs.shuffled(), lease: 60) }
                }
                for job in jobs.shuffled() {
                    group.addTask {
                        try await queue.saveReply(job, reply: "r\(job.id)", remembered: false)
                        try await queue.finish(job, postedTS: "1.\(job.id)", remembering: nil)
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await queue.count(status: .done) == 300)
        }
    }

    @Test("jobs: the attempt limit holds at claim time; a job that kills its worker every time ends dead",
          arguments: TestDatabaseKind.allCases)
    func attemptLimitAtClaim(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            let queue = JobQueue(database: test.database, now: clock.function)
            try await queue.enqueue(kind: "event", tenantID: "T1", payload: "{}", maxAttempts: 3)
            for attempt in 1...3 {
                // The worker dies mid-job: nothing but the lease running out tells the queue.
                #expect(try await queue.claim(limit: 1, lease: 15).map(\.attempts) == [attempt])
                clock.advance(by: 16)
            }
            #expect(try await queue.claim(limit: 1, lease: 15).isEmpty)
            #expect(try await queue.buryExhausted() == 1)
            #expect(try await queue.count(status: .dead) == 1)
            #expect(try await queue.dead().first?.lastError?.contains("gave up") == true)
        }
    }

    @Test("jobs: a claim leaves out the tenants at their cap, oldest first among the rest", arguments: TestDatabaseKind.allCases)
    func claimSkipsSaturatedTenants(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            let queue = JobQueue(database: test.database, now: clock.function)
            for index in 0..<50 { try await queue.enqueue(kind: "event", tenantID: "TBUSY", payload: "\(index)") }
            clock.advance(by: 1)
            let quiet = try await queue.enqueue(kind: "event", tenantID: "TQUIET", payload: "{}")
            try await queue.enqueue(kind: "event", tenantID: "TOTHER", payload: "{}")
            let first = try await queue.claim(limit: 5, lease: 15)
            #expect(first.count == 5 && first.allSatisfy { $0.tenantID == "TBUSY" }, "\(first.map { "\($0.id):\($0.tenantID)" })")
            let next = try await queue.claim(limit: 1, lease: 15, excludingTenants: ["TBUSY"])
            #expect(next.map(\.id) == [quiet])
            #expect(try await queue.claim(limit: 10, lease: 15, excludingTenants: ["TBUSY", "TOTHER"]).isEmpty)
        }
    }

    @Test("jobs: a lease that runs out makes the job claimable again (worker died)", arguments: TestDatabaseKind.allCases)
    func jobLeaseExpiry(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            let queue = JobQueue(database: test.database, now: clock.function)
            let id = try await queue.enqueue(kind: "event", tenantID: "T1", payload: "{}")
            #expect(try await queue.claim(limit: 1, lease: 60).map(\.id) == [id])
            clock.advance(by: 61)
            #expect(try await queue.claim(limit: 1, lease: 60).map(\.id) == [id])
        }
    }

    /// A lease moves `run_at` to its end, so a claim reading the queue up to now does not walk the jobs in flight; a
    /// renewal moves it along, a release brings it back to now, and a finished job gets `run_at` = `updated_at`
    /// (retention finds finished jobs through `run_at`).
    @Test("jobs: run_at follows the lease, and a finished job's is its updated_at", arguments: TestDatabaseKind.allCases)
    func runAtFollowsTheLease(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            let queue = JobQueue(database: test.database, now: clock.function)
            func times(_ id: Int64) async throws -> (runAt: Int64, lockedUntil: Int64?, updatedAt: Int64) {
                let row = try #require(try await test.database.queryFirst(
                    "SELECT run_at, locked_until, updated_at FROM jobs WHERE id = $1", [.integer(id)]))
                return (try row.int64("run_at"), row.optionalInt64("locked_until"), try row.int64("updated_at"))
            }
            let first = try await queue.enqueue(kind: "event", tenantID: "T1", payload: "{}")
            clock.advance(by: 1)
            let second = try await queue.enqueue(kind: "event", tenantID: "T1", payload: "{}")
            let leased = try await queue.claim(limit: 1, lease: 15)
            #expect(leased.map(\.id) == [first])
            var now = try await times(first)
            #expect(now.lockedUntil == now.runAt && now.runAt == now.updatedAt + 15_000)
            // The job in flight is not due: the next claim takes the one behind it.
            let behind = try await queue.claim(limit: 5, lease: 15)
            #expect(behind.map(\.id) == [second])
            clock.advance(by: 5)
            #expect(try await queue.renew(leased, lease: 15).isEmpty)
            now = try await times(first)
            #expect(now.lockedUntil == now.runAt && now.runAt == now.updatedAt + 20_000)
            try await queue.release(leased[0])
            now = try await times(first)
            #expect(now.lockedUntil == nil && now.runAt == now.updatedAt)
            let again = try await queue.claim(limit: 1, lease: 15)
            #expect(again.map(\.id) == [first])
            clock.advance(by: 2)
            try await queue.finish(again[0], postedTS: "1.1", remembering: nil)
            now = try await times(first)
            #expect(now.runAt == now.updatedAt)
            try await queue.complete(behind[0])
            now = try await times(second)
            #expect(now.lockedUntil == nil && now.runAt == now.updatedAt)
        }
    }

    @Test("jobs: concurrent claimers never share a job", arguments: TestDatabaseKind.allCases)
    func concurrentClaims(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let queue = JobQueue(database: test.database)
            for index in 0..<100 { try await queue.enqueue(kind: "event", tenantID: "T1", payload: "\(index)") }
            let ids = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        var mine: [Int64] = []
                        while true {
                            let batch = try await queue.claim(limit: 3, lease: 300)
                            if batch.isEmpty { return mine }
                            mine += batch.map(\.id)
                        }
                    }
                }
                return try await group.reduce(into: [Int64]()) { $0 += $1 }
            }
            #expect(ids.count == 100)
            #expect(Set(ids).count == 100)
        }
    }

    @Test("processed events: claim once, job stored with the claim", arguments: TestDatabaseKind.allCases)
    func processedEvents(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let events = ProcessedEvents(database: test.database)
            let results = try await withThrowingTaskGroup(of: Int64?.self) { group in
                for _ in 0..<10 {
                    group.addTask { try await events.claimAndEnqueue(eventID: "Ev1", tenantID: "T1", kind: "event", payload: "{}") }
                }
                return try await group.reduce(into: [Int64?]()) { $0.append($1) }
            }
            #expect(results.compactMap { $0 }.count == 1)
            #expect(try await JobQueue(database: test.database).count(status: .queued) == 1)
            #expect(try await events.contains("Ev1"))
            #expect(try await !events.contains("Ev2"))
        }
    }

    @Test("processed events: a batch is claimed in one statement; earlier claims and repeats within it get no job",
          arguments: TestDatabaseKind.allCases)
    func processedEventsBatch(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let events = ProcessedEvents(database: test.database)
            _ = try await events.claimAndEnqueue(eventID: "EvOld", tenantID: "T1", kind: "event", payload: "{\"n\":0}")
            // Payloads with what array and JSON syntax care about: quotes, backslashes, braces, commas, NULL, Unicode.
            let payload = { @Sendable (index: Int) in "{\"n\":\(index)}" + (index % 10 == 3 ? " \"q\" \\ {a,b} NULL é 🚀 \\\"" : "") }
            let written = Mutex<Set<Int>>([])
            let batch = (0..<300).map { index in
                EventClaim(eventID: index % 150 == 7 ? "EvOld" : "Ev\(index % 150)", tenantID: "T\(index % 3)", kind: "event") {
                    written.withLock { _ = $0.insert(index) }
                    return payload(index)
                }
            }
            let ids = try await events.claimAndEnqueue(batch)
            #expect(ids.count == 300)
            if kind == .sqlite {
                // A claim that loses (a retry of an event claimed before) never has its payload written.
                #expect(written.withLock { $0 } == Set((0..<150).filter { $0 != 7 }))
            }
            #expect(ids[7] == nil && ids[157] == nil, "claimed before the batch")
            for index in 0..<150 where index != 7 { #expect(ids[index] != nil, "first occurrence of Ev\(index)") }
            for index in 150..<300 { #expect(ids[index] == nil, "Ev\(index % 150) again in the same batch") }
            let stored = try await test.database.query("SELECT tenant_id, payload FROM jobs ORDER BY id")
            #expect(stored.count == 150)
            // Each job carries its own claim's tenant and payload, in the batch's order.
            #expect(try stored.dropFirst().map { try $0.string("payload") } == (0..<150).filter { $0 != 7 }.map(payload))
            // And each id handed back is its own claim's job.
            for index in [0, 3, 8, 149] {
                let id = try #require(ids[index])
                let row = try await test.database.queryFirst("SELECT payload FROM jobs WHERE id = $1", [.integer(id)])
                #expect(row?.optionalString("payload") == payload(index))
            }
            #expect(try stored[1].string("tenant_id") == "T0" && stored[2].string("tenant_id") == "T1")
            #expect(try await events.contains("Ev149"))
        }
    }

    @Test("chat memory: per thread, newest kept within budget, retention", arguments: TestDatabaseKind.allCases)
    func chatMemory(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            let memory = ChatMemory(database: test.database, now: clock.function)
            for index in 1...5 {
                try await memory.append(tenantID: "T1", channelID: "C1", threadTS: "1.0",
                                        turn: ChatTurn(role: index.isMultiple(of: 2) ? .assistant : .user, content: "turn \(index)"))
                clock.advance(by: 10)
            }
            try await memory.append(tenantID: "T1", channelID: "C1", threadTS: "2.0", turn: ChatTurn(role: .user, content: "other thread"))
            try await memory.append(tenantID: "T2", channelID: "C1", threadTS: "1.0", turn: ChatTurn(role: .user, content: "other tenant"))
            let recent = try await memory.recent(tenantID: "T1", channelID: "C1", threadTS: "1.0", maxTurns: 3, maxCharacters: 1000)
            #expect(recent.map(\.content) == ["turn 3", "turn 4", "turn 5"])
            #expect(recent.first?.role == .user)
            let tight = try await memory.recent(tenantID: "T1", channelID: "C1", threadTS: "1.0", maxTurns: 10, maxCharacters: 13)
            #expect(tight.map(\.content) == ["turn 4", "turn 5"])

            let moved = try await memory.expire(olderThan: clock.now.addingTimeInterval(-25), archive: true)
            #expect(moved == 3)
            #expect(try await test.database.queryFirst("SELECT COUNT(*) AS n FROM chat_memory_archive")?.int("n") == 3)
            clock.advance(by: 10)
            #expect(try await memory.purgeArchive(archivedBefore: clock.now) == 3)
        }
    }

    @Test("assistant threads: save, context changes overwrite, greeting kept, per tenant", arguments: TestDatabaseKind.allCases)
    func assistantThreads(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            let threads = AssistantThreads(database: test.database, now: clock.function)
            #expect(try await threads.context(tenantID: "T1", channelID: "D1", threadTS: "1.1") == nil)
            #expect(try await threads.markGreeted(tenantID: "T1", channelID: "D1", threadTS: "1.1") == false)

            let started = AssistantThreadContext(channelID: "C1", teamID: "T1", enterpriseID: "E1")
            try await threads.save(tenantID: "T1", channelID: "D1", threadTS: "1.1", userID: "U1", context: started)
            #expect(try await threads.context(tenantID: "T1", channelID: "D1", threadTS: "1.1") == started)
            #expect(try await threads.markGreeted(tenantID: "T1", channelID: "D1", threadTS: "1.1"))
            let greetedAt = clock.now

            // The context changes: overwritten, absent parts included; the greeting and the row's key stay.
            clock.advance(by: 60)
            let moved = AssistantThreadContext(channelID: "C2")
            try await threads.save(tenantID: "T1", channelID: "D1", threadTS: "1.1", userID: "U1", context: moved)
            let found = try #require(try await threads.find(tenantID: "T1", channelID: "D1", threadTS: "1.1"))
            #expect(found == AssistantThreadRecord(
                tenantID: "T1", channelID: "D1", threadTS: "1.1", userID: "U1", context: moved,
                greetedAt: Date(epochMilliseconds: greetedAt.epochMilliseconds), updatedAt: Date(epochMilliseconds: clock.now.epochMilliseconds)
            ))
            #expect(try await test.database.queryFirst("SELECT COUNT(*) AS n FROM assistant_threads")?.int("n") == 1)

            // Other threads and tenants are their own rows.
            try await threads.save(tenantID: "T1", channelID: "D1", threadTS: "2.2", userID: "U1", context: AssistantThreadContext())
            try await threads.save(tenantID: "T2", channelID: "D1", threadTS: "1.1", userID: "U9", context: started)
            #expect(try await threads.context(tenantID: "T1", channelID: "D1", threadTS: "2.2") == AssistantThreadContext())
            #expect(try await threads.find(tenantID: "T1", channelID: "D1", threadTS: "2.2")?.greetedAt == nil)
            #expect(try await threads.context(tenantID: "T2", channelID: "D1", threadTS: "1.1") == started)
            #expect(try await threads.context(tenantID: "T1", channelID: "D1", threadTS: "1.1") == moved)

            #expect(try await threads.deleteAll(tenantID: "T1") == 2)
            #expect(try await threads.find(tenantID: "T1", channelID: "D1", threadTS: "1.1") == nil)
            #expect(try await threads.context(tenantID: "T2", channelID: "D1", threadTS: "1.1") == started)
        }
    }

    @Test("installations: suggested prompts are stored with the settings; nil means the defaults", arguments: TestDatabaseKind.allCases)
    func suggestedPrompts(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            let store = InstallationStore(database: test.database, cipher: try Self.cipher(), now: clock.function)
            try await store.save(Self.installation("T1", at: clock.now), tokens: InstallationTokens(botToken: "xoxb-1"))
            #expect(try await store.find(tenantID: "T1")?.settings.suggestedPrompts == nil)
            #expect(try await store.find(tenantID: "T1")?.settings.effectiveSuggestedPrompts == SuggestedPrompt.defaults)
            let own = [SuggestedPrompt(title: "Quote \"this\"", message: "Line | with a bar, ünïcode 😀")]
            try await store.updateSettings(tenantID: "T1", settings: TenantSettings(model: "m", suggestedPrompts: own))
            #expect(try await store.find(tenantID: "T1")?.settings == TenantSettings(model: "m", suggestedPrompts: own))
            // Reinstalling keeps them, like every setting.
            try await store.save(Self.installation("T1", at: clock.now), tokens: InstallationTokens(botToken: "xoxb-2"))
            #expect(try await store.find(tenantID: "T1")?.settings.effectiveSuggestedPrompts == own)
            // A damaged value reads as the defaults rather than failing the installation.
            try await test.database.query("UPDATE installations SET suggested_prompts = 'not json' WHERE tenant_id = 'T1'")
            #expect(try await store.find(tenantID: "T1")?.settings.suggestedPrompts == nil)
            try await store.updateSettings(tenantID: "T1", settings: TenantSettings())
            #expect(try await test.database.queryFirst("SELECT suggested_prompts FROM installations")?.optionalString("suggested_prompts") == nil)
        }
    }

    @Test("the usage day is the UTC calendar day, as Foundation's Gregorian calendar counts it")
    func usageDay() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var generator = SystemRandomNumberGenerator()
        let instants = [0, -1, 86_399, 86_400, 951_782_400, 951_868_799, 951_868_800, 4_107_542_399, 4_107_542_400]
            + (0..<2_000).map { _ in Int.random(in: -2_000_000_000...13_000_000_000, using: &generator) }
        for seconds in instants {
            let date = Date(timeIntervalSince1970: TimeInterval(seconds) + 0.5)
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            let expected = String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
            #expect(UsageCounters.day(date) == expected, "\(seconds)")
        }
    }

    @Test("usage counters add up per day", arguments: TestDatabaseKind.allCases)
    func usage(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock(Date(timeIntervalSince1970: 1_800_000_000))  // 2027-01-15
            let counters = UsageCounters(database: test.database, now: clock.function)
            try await counters.increment(tenantID: "T1", .events)
            try await counters.increment(tenantID: "T1", .events)
            try await counters.increment(tenantID: "T1", .rateLimited)
            clock.advance(by: 86_400)
            try await counters.increment(tenantID: "T1", .events)
            try await counters.increment(tenantID: "T1", .llmCalls, by: 3)
            #expect(try await counters.today(tenantID: "T1") == Usage(events: 1, llmCalls: 3))
            #expect(try await counters.thisMonth(tenantID: "T1") == Usage(events: 3, llmCalls: 3, rateLimited: 1))
            #expect(try await counters.today(tenantID: "T2") == Usage())
        }
    }

    @Test("key registry: ages from first activation, rotation due", arguments: TestDatabaseKind.allCases)
    func keyAges(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let clock = TestClock()
            let registry = KeyRegistry(database: test.database, now: clock.function)
            try await registry.register(keyIDs: ["k1"])
            clock.advance(by: 91 * 86_400)
            try await registry.register(keyIDs: ["k1"])
            var ages = try await registry.ages(keyIDs: ["k1"], rotationDays: 90)
            #expect(ages.map(\.ageDays) == [91])
            #expect(ages.map(\.rotationDue) == [true])
            try await registry.register(keyIDs: ["k2", "k1"])
            ages = try await registry.ages(keyIDs: ["k2", "k1"], rotationDays: 90)
            #expect(ages.map(\.rotationDue) == [false, false])
            #expect(ages.map(\.isActive) == [true, false])
        }
    }
}

/// Set once by one task, read by others.
final class DoneFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false

    func set() { lock.withLock { done = true } }
    var isSet: Bool { lock.withLock { done } }
}
