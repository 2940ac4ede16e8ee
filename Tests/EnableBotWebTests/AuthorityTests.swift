import EnableBotCore
import EnableBotWeb
import Foundation
import Testing
import TestSupport

/// Issue 8: who may manage what. Org-wide installs, operator limits, sessions that end server-side, throttling
/// behind a balancer, HSTS. Each refusal is tested as carefully as the success, on both databases.
@Suite("Authority", .timeLimit(.minutes(2)))
struct AuthorityTests {
    static let teamA = FakeSlack.Workspace(teamID: "TA", teamName: "Team A", installerUserID: "UA1", admins: ["UAADMIN"])
    /// An org-wide install of Enterprise Grid org E1: one admin of workspace T2 in it, one admin of the org.
    static let orgE1 = FakeSlack.Workspace(
        teamID: nil, teamName: "Org One", enterpriseID: "E1", enterpriseName: "Org One", orgWide: true,
        installerUserID: "WINSTALLER", admins: ["WT2ADMIN"], orgAdmins: ["WORGADMIN"]
    )

    @Test("org-wide install: an admin of one workspace in the org is refused; org admins and the installer may",
          arguments: TestDatabaseKind.allCases)
    func orgWideInstall(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            try await WebChecks.install(h, h.browser(), Self.orgE1)
            #expect(try await h.stores.installations.find(tenantID: "E1")?.isEnterpriseInstall == true)

            let workspaceAdmin = h.browser()
            let refused = try await WebChecks.slackSignIn(h, workspaceAdmin, userID: "WT2ADMIN", teamID: "T2", enterpriseID: "E1")
            #expect(refused.status == 403)
            #expect(refused.body.contains("Only admins can manage EnableBot"))
            #expect(workspaceAdmin.cookies["eb_session"] == nil)
            #expect(try await workspaceAdmin.get("/dashboard/tenants/E1").status == 303)

            let orgAdmin = h.browser()
            #expect(try await WebChecks.slackSignIn(h, orgAdmin, userID: "WORGADMIN", teamID: "T2", enterpriseID: "E1").status == 303)
            #expect(try await orgAdmin.get("/dashboard/tenants/E1").status == 200)

            let installer = h.browser()
            #expect(try await WebChecks.slackSignIn(h, installer, userID: "WINSTALLER", teamID: "T3", enterpriseID: "E1").status == 303)
            #expect(try await installer.get("/dashboard/tenants/E1").status == 200)
        }
    }

    @Test("a workspace admin picks allowed models and lowers limits; never raises them or lifts a suspension",
          arguments: TestDatabaseKind.allCases)
    func operatorLimits(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind, configure: {
            $0.llmModels = ["gpt-4o-mini", "gpt-4o"]
            $0.rateLimitPerTenant = RateLimitSpec(limit: 100, windowSeconds: 60)
        }) { h in
            try await WebChecks.install(h, h.browser(), Self.teamA)
            let admin = h.browser()
            #expect(try await WebChecks.slackSignIn(h, admin, userID: "UAADMIN", teamID: "TA").status == 303)
            let csrf = try await WebChecks.csrf(admin, page: "/dashboard/tenants/TA")
            func save(_ browser: TestBrowser, _ csrf: String, model: String = "", limit: String = "") async throws -> TestBrowser.Page {
                try await browser.post("/dashboard/tenants/TA/settings", [
                    ("csrf_token", csrf), ("model", model), ("system_prompt", "Be brief."), ("rate_limit", limit),
                ])
            }
            func stored() async throws -> Installation { try #require(try await h.stores.installations.find(tenantID: "TA")) }
            func refusals() async throws -> Int { try await h.stores.auditLog.recent(tenantID: "TA", action: "refused").count }

            // Models: from the operator's list only.
            #expect(try await save(admin, csrf, model: "gpt-4o", limit: "50/minute").status == 303)
            #expect(try await stored().settings.model == "gpt-4o")
            let badModel = try await save(admin, csrf, model: "o1-pro")
            #expect(badModel.status == 403)
            #expect(badModel.body.contains("gpt-4o-mini, gpt-4o"))
            #expect(try await stored().settings.model == "gpt-4o")
            #expect(try await refusals() == 1)

            // Limits: lower is fine, above RATE_LIMIT_PER_TENANT is not.
            #expect(try await stored().settings.rateLimit == RateLimitSpec(limit: 50, windowSeconds: 60))
            let raised = try await save(admin, csrf, model: "gpt-4o", limit: "200/minute")
            #expect(raised.status == 403)
            #expect(raised.body.contains("100/minute"))
            #expect(try await stored().settings.rateLimit == RateLimitSpec(limit: 50, windowSeconds: 60))
            #expect(try await refusals() == 2)

            // The operator's value is the ceiling from then on; an admin's "default" is that ceiling.
            let op = h.browser()
            try await WebChecks.operatorLogin(op)
            let opCSRF = try await WebChecks.csrf(op, page: "/dashboard/tenants/TA")
            #expect(try await save(op, opCSRF, model: "gpt-4o", limit: "20/minute").status == 303)
            let twenty = RateLimitSpec(limit: 20, windowSeconds: 60)
            #expect(try await stored().settings.rateLimitCeiling == twenty)
            #expect(try await save(admin, csrf, model: "gpt-4o", limit: "30/minute").status == 403)
            #expect(try await save(admin, csrf, model: "gpt-4o", limit: "10/minute").status == 303)
            #expect(try await stored().settings.rateLimit == RateLimitSpec(limit: 10, windowSeconds: 60))
            #expect(try await save(admin, csrf, model: "gpt-4o", limit: "").status == 303)
            #expect(try await stored().settings.effectiveRateLimit(default: h.settings.rateLimitPerTenant) == twenty)
            #expect(try await refusals() == 3)

            // Status: the admin deactivates and reactivates; only the operator suspends and lifts a suspension.
            func setStatus(_ browser: TestBrowser, _ csrf: String, _ status: String) async throws -> Int {
                try await browser.post("/dashboard/tenants/TA/status", [("csrf_token", csrf), ("status", status)]).status
            }
            #expect(try await setStatus(admin, csrf, "inactive") == 303)
            #expect(try await stored().status == .inactive)
            #expect(try await setStatus(admin, csrf, "active") == 303)
            #expect(try await setStatus(admin, csrf, "suspended") == 403)
            #expect(try await stored().status == .active)
            #expect(try await setStatus(op, opCSRF, "suspended") == 303)
            #expect(try await stored().status == .suspended)
            let lift = try await admin.post("/dashboard/tenants/TA/status", [("csrf_token", csrf), ("status", "active")])
            #expect(lift.status == 403)
            #expect(lift.body.contains("only the operator can lift"))
            #expect(try await setStatus(admin, csrf, "inactive") == 403)
            #expect(try await stored().status == .suspended)
            #expect(try await refusals() == 6)
            let refusal = try #require(try await h.stores.auditLog.recent(tenantID: "TA", action: "refused").first)
            #expect(refusal.actor == "slack:UAADMIN")

            // A reinstall does not lift it, nor does an uninstall turn it into an ordinary "inactive".
            let again = try await WebChecks.install(h, h.browser(), Self.teamA)
            #expect(again.body.contains("suspended"))
            #expect(try await stored().status == .suspended)
            try await h.stores.installations.deactivateAndDeleteTokens(tenantID: "TA")
            #expect(try await stored().status == .suspended)
            try await WebChecks.install(h, h.browser(), Self.teamA)
            #expect(try await setStatus(op, opCSRF, "active") == 303)
            #expect(try await stored().status == .active)
            #expect(try await h.stores.auditLog.recent(tenantID: "TA", action: "suspension_lifted").count == 1)

            // An uninstalled (not suspended) workspace comes back with a reinstall.
            try await h.stores.installations.deactivateAndDeleteTokens(tenantID: "TA")
            #expect(try await stored().status == .inactive)
            try await WebChecks.install(h, h.browser(), Self.teamA)
            #expect(try await stored().status == .active)
        }
    }

    @Test("sign-out ends the session server-side; sign out everywhere and the operator end every copy",
          arguments: TestDatabaseKind.allCases)
    func sessionsEnd(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            try await WebChecks.install(h, h.browser(), Self.teamA)

            // A copied cookie dies with the session it was copied from.
            let op = h.browser()
            try await WebChecks.operatorLogin(op)
            let copy = h.browser()
            copy.setCookie("eb_session", op.cookies["eb_session"])
            #expect(try await copy.get("/dashboard").status == 200)
            #expect(try await op.post("/logout", [("csrf_token", try await WebChecks.csrf(op))]).status == 303)
            #expect(try await copy.get("/dashboard").status == 303)

            // Sign out everywhere: every other session of the same person ends too.
            let laptop = h.browser()
            let phone = h.browser()
            try await WebChecks.operatorLogin(laptop)
            try await WebChecks.operatorLogin(phone)
            #expect(try await laptop.post("/logout/everywhere", [("csrf_token", try await WebChecks.csrf(laptop))]).status == 303)
            #expect(try await phone.get("/dashboard").status == 303)
            let fresh = h.browser()
            try await WebChecks.operatorLogin(fresh)
            #expect(try await fresh.get("/dashboard").status == 200)

            // A workspace admin's sign out everywhere ends only their own sessions.
            let adminOne = h.browser()
            let adminTwo = h.browser()
            let installer = h.browser()
            #expect(try await WebChecks.slackSignIn(h, adminOne, userID: "UAADMIN", teamID: "TA").status == 303)
            #expect(try await WebChecks.slackSignIn(h, adminTwo, userID: "UAADMIN", teamID: "TA").status == 303)
            #expect(try await WebChecks.slackSignIn(h, installer, userID: "UA1", teamID: "TA").status == 303)
            #expect(try await adminOne.post("/logout/everywhere", [("csrf_token", try await WebChecks.csrf(adminOne))]).status == 303)
            #expect(try await adminTwo.get("/dashboard").status == 303)
            #expect(try await installer.get("/dashboard").status == 200)
            #expect(try await fresh.get("/dashboard").status == 200)

            // The operator ends every session of a workspace's admins; an admin may not.
            let installerCSRF = try await WebChecks.csrf(installer)
            #expect(try await installer.post("/dashboard/tenants/TA/sessions/end", [("csrf_token", installerCSRF)]).status == 403)
            #expect(try await installer.get("/dashboard").status == 200)
            let ended = try await fresh.post("/dashboard/tenants/TA/sessions/end", [("csrf_token", try await WebChecks.csrf(fresh))])
            #expect(ended.status == 303)
            #expect(try await installer.get("/dashboard").status == 303)
            #expect(try await fresh.get("/dashboard").status == 200)
        }
    }

    @Test("a demoted workspace admin loses access within 15 minutes; Slack is asked at most that often",
          arguments: TestDatabaseKind.allCases)
    func demotedAdmin(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            try await WebChecks.install(h, h.browser(), Self.teamA)
            let admin = h.browser()
            #expect(try await WebChecks.slackSignIn(h, admin, userID: "UAADMIN", teamID: "TA").status == 303)
            let checksAtSignIn = h.slack.calls("users.info").count

            h.slack.setAdmins(of: "TA", admins: [])
            h.clock.advance(by: 10 * 60)
            for _ in 0..<3 { #expect(try await admin.get("/dashboard/tenants/TA").status == 200) }
            #expect(h.slack.calls("users.info").count == checksAtSignIn)

            h.clock.advance(by: 6 * 60)
            #expect(try await admin.get("/dashboard/tenants/TA").status == 303)
            #expect(h.slack.calls("users.info").count == checksAtSignIn + 1)
            // Once ended, the session stays ended even if Slack changes its mind.
            h.slack.setAdmins(of: "TA", admins: ["UAADMIN"])
            #expect(try await admin.get("/dashboard").status == 303)

            // An admin who still is one is confirmed and carries on.
            let other = h.browser()
            #expect(try await WebChecks.slackSignIn(h, other, userID: "UAADMIN", teamID: "TA").status == 303)
            h.clock.advance(by: 16 * 60)
            #expect(try await other.get("/dashboard").status == 200)
            #expect(try await other.get("/dashboard").status == 200)
            #expect(h.slack.calls("users.info").count == checksAtSignIn + 3)
        }
    }

    @Test("login throttling: X-Forwarded-For only from trusted proxies; forged forms do not count",
          arguments: TestDatabaseKind.allCases)
    func loginThrottle(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind, loginAttempts: 3, configure: {
            $0.trustedProxies = [CIDR("127.0.0.0/8")!]
        }) { trusting in
            func guess(_ browser: TestBrowser) async throws -> Int {
                let csrf = try #require(try await browser.get("/login").field("csrf_token"))
                return try await browser.post("/login", [("csrf_token", csrf), ("password", "guess")]).status
            }
            let one = trusting.browser(headers: [("X-Forwarded-For", "198.51.100.1")])
            let two = trusting.browser(headers: [("X-Forwarded-For", "198.51.100.2")])
            for _ in 0..<3 { #expect(try await guess(one) == 401) }
            #expect(try await guess(one) == 429)
            #expect(try await guess(two) == 401)

            // Junk without a valid CSRF token is refused before it counts, so it cannot lock the operator out.
            let junk = trusting.browser(headers: [("X-Forwarded-For", "198.51.100.3")])
            for _ in 0..<10 {
                #expect(try await junk.post("/login", [("password", "guess")]).status == 403)
                #expect(try await junk.post("/login", [("csrf_token", "forged"), ("password", "guess")]).status == 403)
            }
            try await WebChecks.operatorLogin(junk)

            // Without TRUSTED_PROXIES the header is ignored: every "address" is the one peer.
            try await withWebHarness(kind, loginAttempts: 3) { plain throws in
                for n in 0..<3 { #expect(try await guess(plain.browser(headers: [("X-Forwarded-For", "203.0.113.\(n)")])) == 401) }
                #expect(try await guess(plain.browser(headers: [("X-Forwarded-For", "203.0.113.99")])) == 429)
            }
        }
    }

    @Test("the login limit holds across web replicas through Redis", arguments: TestDatabaseKind.allCases)
    func loginThrottleAcrossReplicas(kind: TestDatabaseKind) async throws {
        try await withStack { stack in
            let redis = try stack.redis()
            let limiter = RedisRateLimiter(client: redis, keyPrefix: TestRedis.uniquePrefix())
            let replicas = [
                try await stack.web(kind, loginAttempts: 3, adjust: { $0.rateLimiter = limiter }),
                try await stack.web(kind, loginAttempts: 3, adjust: { $0.rateLimiter = limiter }),
            ]
            var statuses: [Int] = []
            for replica in [replicas[0], replicas[1], replicas[0], replicas[1]] {
                let browser = replica.browser()
                let csrf = try #require(try await browser.get("/login").field("csrf_token"))
                statuses.append(try await browser.post("/login", [("csrf_token", csrf), ("password", "guess")]).status)
            }
            #expect(statuses == [401, 401, 401, 429])
        }
    }

    @Test("starting installs and sign-ins is limited per address; the web service purges expired states itself",
          arguments: TestDatabaseKind.allCases)
    func oauthStartThrottleAndPurge(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind, adjust: {
            $0.oauthStartLimit = RateLimitSpec(limit: 3, windowSeconds: 60)
            $0.housekeepingInterval = .milliseconds(50)
        }) { h in
            let visitor = h.browser()
            for _ in 0..<2 { #expect(try await visitor.get("/slack/install").status == 200) }
            #expect(try await visitor.get("/auth/slack").status == 303)
            let limited = try await visitor.get("/slack/install")
            #expect(limited.status == 429)
            #expect(limited.header("Retry-After") != nil)
            #expect(try await visitor.get("/auth/slack").status == 429)
            func states() async throws -> Int { try await h.database.database.query("SELECT state FROM oauth_states").count }
            #expect(try await states() == 3)

            // Past expiry (10 minutes) plus the day kept for the failure pages, the service deletes them on its own.
            h.clock.advance(by: 86_400 + 700)
            var remaining = try await states()
            for _ in 0..<100 where remaining > 0 {
                try await Task.sleep(for: .milliseconds(50))
                remaining = try await states()
            }
            #expect(remaining == 0)
            #expect(try await visitor.get("/slack/install").status == 200)
        }
    }

    @Test("Strict-Transport-Security when the public URL is https, not over plain http")
    func strictTransportSecurity() async throws {
        try await withWebHarness(.sqlite, configure: { $0.slackRedirectURI = "https://bot.example.com/slack/oauth/callback" }) { https in
            #expect(try await https.browser().get("/login").header("Strict-Transport-Security") == "max-age=31536000")
            try await withWebHarness(.sqlite) { plain throws in
                #expect(try await plain.browser().get("/login").header("Strict-Transport-Security") == nil)
            }
        }
    }
}
