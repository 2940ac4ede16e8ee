@testable import EnableBotAPI
import EnableBotCore
import Foundation
import Testing
import TestSupport

/// Issue 12: a rotating token is refreshed by one replica however many replicas need it at the same moment.
@Suite struct TokenRefreshAcrossReplicasTests {
    static let cipher = Result { try TokenCipher(keys: [EncryptionKey.generate(id: "k1")]) }

    @Test("20 needs over 2 replicas sharing one database: one oauth.v2.access, everyone gets the new token",
          arguments: TestDatabaseKind.allCases)
    func oneRefreshAcrossReplicas(kind: TestDatabaseKind) async throws {
        try await withStack { stack in
            let test = try await stack.database(kind)
            let slack = try await stack.slack()
            let http = stack.http()
            let cipher = try Self.cipher.get()
            let now = Date()
            let seed = InstallationStore(database: test.database, cipher: cipher)
            try await seed.save(
                Installation(
                    tenantID: "T1", teamID: "T1", enterpriseID: nil, teamName: "One", appID: "A1", botUserID: "UBOT",
                    botID: "BBOT", scopes: "chat:write", installerUserID: "U1", installedAt: now, updatedAt: now),
                tokens: InstallationTokens(
                    botToken: "xoxe.xoxb-old", refreshToken: "xoxe-1-refresh-old", expiresAt: now.addingTimeInterval(60)))
            slack.script("oauth.v2.access", .ok(extraJSON:
                #""access_token":"xoxe.xoxb-new","refresh_token":"xoxe-1-refresh-new","expires_in":43200,"token_type":"bot""#))

            // Each replica has its own connections to the one database, as separate processes would.
            var replicas: [BotTokenProvider] = []
            for _ in 0..<2 {
                let database = try stack.own(DatabaseFactory.open(url: test.url, poolSize: 4, logger: TestLog.logger)) {
                    await $0.shutdown()
                }
                replicas.append(BotTokenProvider(
                    installations: InstallationStore(database: database, cipher: cipher),
                    slack: SlackWebClient(baseURL: slack.apiBaseURL, http: http, logger: TestLog.logger),
                    clientID: slack.clientID, clientSecret: slack.clientSecret,
                    auditLog: AuditLog(database: database), now: Date.init, logger: TestLog.logger,
                    pollInterval: .milliseconds(10)
                ))
            }
            let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                for need in 0..<20 {
                    let replica = replicas[need % 2]
                    group.addTask { try await replica.botToken(tenantID: "T1") }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(slack.calls("oauth.v2.access").count == 1)
            #expect(tokens.count == 20)
            #expect(tokens.allSatisfy { $0 == "xoxe.xoxb-new" }, "\(tokens)")
            let stored = try await seed.tokens(tenantID: "T1")
            #expect(stored?.refreshToken == "xoxe-1-refresh-new")
        }
    }

    @Test("a failed refresh gives the lease back, so the next need tries again at once", arguments: TestDatabaseKind.allCases)
    func failedRefreshReleasesTheLease(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let store = InstallationStore(database: test.database, cipher: try Self.cipher.get())
            let now = Date()
            try await store.save(
                Installation(
                    tenantID: "T1", teamID: "T1", enterpriseID: nil, teamName: "One", appID: "A1", botUserID: "UBOT",
                    botID: "BBOT", scopes: "chat:write", installerUserID: "U1", installedAt: now, updatedAt: now),
                tokens: InstallationTokens(botToken: "xoxe.xoxb-old", refreshToken: "xoxe-r", expiresAt: now.addingTimeInterval(60)))
            guard case .claimed = try await store.claimTokenRefresh(tenantID: "T1", margin: 300, lease: 60) else {
                Issue.record("first claim should win"); return
            }
            #expect(try await store.claimTokenRefresh(tenantID: "T1", margin: 300, lease: 60) == .heldElsewhere)
            try await store.releaseTokenRefresh(tenantID: "T1")
            guard case .claimed = try await store.claimTokenRefresh(tenantID: "T1", margin: 300, lease: 60) else {
                Issue.record("claim after release should win"); return
            }
            try await store.updateTokens(tenantID: "T1", botToken: "xoxe.xoxb-new", refreshToken: nil, expiresAt: now.addingTimeInterval(43_200))
            guard case .fresh(let tokens) = try await store.claimTokenRefresh(tenantID: "T1", margin: 300, lease: 60) else {
                Issue.record("a refreshed token is fresh"); return
            }
            #expect(tokens.botToken == "xoxe.xoxb-new")
            #expect(tokens.refreshToken == "xoxe-r")
        }
    }
}
