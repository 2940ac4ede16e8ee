import EnableBotCore
import Foundation
import Testing
import TestSupport

/// The dashboard over real HTTP: sessions, CSRF, the login limit, tenant isolation, settings the API reads.
@Suite("Dashboard", .timeLimit(.minutes(2)))
struct DashboardTests {
    static let teamA = FakeSlack.Workspace(teamID: "TA", teamName: "Team A", installerUserID: "UA1", admins: ["UAADMIN"])
    static let teamB = FakeSlack.Workspace(teamID: "TB", teamName: "Team B", installerUserID: "UB1")

    @Test("every dashboard route needs a session; forged and expired sessions count as none", arguments: TestDatabaseKind.allCases)
    func routesNeedSession(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            try await WebChecks.install(h, h.browser(), Self.teamA)
            let anonymous = h.browser()
            let gets = ["/dashboard", "/dashboard/tenants/TA", "/dashboard/audit", "/dashboard/system", "/dashboard/tenants/NOPE"]
            let posts = ["/dashboard/tenants/TA/settings", "/dashboard/tenants/TA/status", "/logout"]
            for path in gets {
                let page = try await anonymous.get(path)
                #expect(page.status == 303, "\(path)")
                #expect(page.location == "/login", "\(path)")
            }
            for path in posts {
                let page = try await anonymous.post(path, [("model", "x"), ("status", "inactive")])
                #expect(page.status == 303, "\(path)")
                #expect(page.location == "/login", "\(path)")
            }
            #expect(try await h.stores.installations.find(tenantID: "TA")?.status == .active)

            // A signed-in cookie with one character changed, or one past its expiry, is no session.
            let signedIn = h.browser()
            try await WebChecks.operatorLogin(signedIn)
            let cookie = try #require(signedIn.cookies["eb_session"])
            let forged = h.browser()
            // One character of the signature changed: its first, whose six bits all count (the last carries padding bits
            // a base64 decoder may ignore, which made this check pass by luck 4 times in 64).
            let dot = try #require(cookie.firstIndex(of: "."))
            let first = cookie[cookie.index(after: dot)]
            var tampered = cookie
            tampered.replaceSubrange(cookie.index(after: dot)...cookie.index(after: dot), with: first == "A" ? "B" : "A")
            forged.setCookie("eb_session", tampered)
            #expect(try await forged.get("/dashboard").status == 303)
            #expect(try await signedIn.get("/dashboard").status == 200)
            h.clock.advance(by: 8 * 3600 + 1)
            #expect(try await signedIn.get("/dashboard").status == 303)
        }
    }

    @Test("operator: login, dashboard, tenant and system pages, logout; no token shown", arguments: TestDatabaseKind.allCases)
    func operatorPages(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            try await WebChecks.install(h, h.browser(), Self.teamA)
            try await WebChecks.install(h, h.browser(), Self.teamB)
            try await h.stores.usage.increment(tenantID: "TA", .events, by: 7)
            try await h.stores.usage.increment(tenantID: "TA", .rateLimited, by: 2)
            try await h.stores.installations.recordError(tenantID: "TB", error: "chat.postMessage: channel_not_found")

            let browser = h.browser()
            let form = try await browser.get("/login")
            #expect(form.body.contains("name=\"password\""))
            WebChecks.expectSecurityHeaders(form)
            let csrf = try #require(form.field("csrf_token"))
            let wrong = try await browser.post("/login", [("csrf_token", csrf), ("password", "nope")])
            #expect(wrong.status == 401)
            #expect(browser.cookies["eb_session"] == nil)
            try await WebChecks.operatorLogin(browser)
            let session = try #require(browser.cookies["eb_session"])
            #expect(!session.isEmpty)

            let dashboard = try await browser.get("/dashboard")
            #expect(dashboard.status == 200)
            #expect(dashboard.body.contains("Team A") && dashboard.body.contains("Team B"))
            #expect(dashboard.body.contains(">7<"))
            #expect(dashboard.body.contains("channel_not_found"))
            WebChecks.expectSecurityHeaders(dashboard)
            let tenant = try await browser.get("/dashboard/tenants/TA")
            #expect(tenant.status == 200)
            #expect(tenant.body.contains("name=\"system_prompt\""))
            let system = try await browser.get("/dashboard/system")
            #expect(system.status == 200)
            #expect(system.body.contains("test1"))
            let audit = try await browser.get("/dashboard/audit?action=install")
            #expect(audit.status == 200)
            #expect(audit.body.contains("slack:UA1") && audit.body.contains("slack:UB1"))
            let filtered = try await browser.get("/dashboard/audit?tenant=TB")
            #expect(filtered.body.contains("slack:UB1") && !filtered.body.contains("slack:UA1"))
            #expect(try await browser.get("/dashboard/tenants/NOPE").status == 404)

            let key = try #require(h.settings.encryptionKeys.first)
            for page in [dashboard, tenant, system, audit] {
                for token in h.slack.issuedTokens { #expect(!page.body.contains(token)) }
                #expect(!page.body.contains("xoxb-") && !page.body.contains(key.encoded.split(separator: ":")[1]))
            }

            let csrfToken = try #require(dashboard.field("csrf_token"))
            let out = try await browser.post("/logout", [("csrf_token", csrfToken)])
            #expect(out.status == 303 && out.location == "/login")
            #expect(browser.cookies["eb_session"] == nil)
            #expect(try await browser.get("/dashboard").status == 303)
        }
    }

    @Test("operator login is rate-limited per client", arguments: TestDatabaseKind.allCases)
    func loginRateLimit(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind, loginAttempts: 5) { h in
            let browser = h.browser()
            let csrf = try #require(try await browser.get("/login").field("csrf_token"))
            for _ in 0..<5 {
                #expect(try await browser.post("/login", [("csrf_token", csrf), ("password", "guess")]).status == 401)
            }
            let limited = try await browser.post("/login", [("csrf_token", csrf), ("password", WebTestHarness.password)])
            #expect(limited.status == 429)
            #expect(limited.header("Retry-After") != nil)
            #expect(browser.cookies["eb_session"] == nil)
            h.clock.advance(by: 301)
            let later = try await browser.post("/login", [("csrf_token", csrf), ("password", WebTestHarness.password)])
            #expect(later.status == 303)
        }
    }

    @Test("POST without a valid CSRF token is refused and changes nothing", arguments: TestDatabaseKind.allCases)
    func csrf(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            try await WebChecks.install(h, h.browser(), Self.teamA)
            let browser = h.browser()
            try await WebChecks.operatorLogin(browser)
            let other = h.browser()
            try await WebChecks.operatorLogin(other)
            let otherToken = try await WebChecks.csrf(other)

            for token in [nil, "", "forged", otherToken] as [String?] {
                var form = [("model", "evil-model"), ("system_prompt", "pwned"), ("rate_limit", "1/hour")]
                if let token { form.append(("csrf_token", token)) }
                let settings = try await browser.post("/dashboard/tenants/TA/settings", form)
                #expect(settings.status == 403)
                #expect(settings.body.contains("Form expired"))
                let status = try await browser.post("/dashboard/tenants/TA/status", [("status", "inactive")] + (token.map { [("csrf_token", $0)] } ?? []))
                #expect(status.status == 403)
            }
            let login = try await h.browser().post("/login", [("password", WebTestHarness.password)])
            #expect(login.status == 403)
            let found = try #require(try await h.stores.installations.find(tenantID: "TA"))
            #expect(found.settings == TenantSettings())
            #expect(found.status == .active)
            #expect(try await h.stores.auditLog.recent(tenantID: "TA", action: "settings_changed").isEmpty)
        }
    }

    @Test("settings saved on the dashboard are what the API service reads; status changes; audit names the actor",
          arguments: TestDatabaseKind.allCases)
    func settingsAndStatus(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            try await WebChecks.install(h, h.browser(), Self.teamA)
            let browser = h.browser()
            try await WebChecks.operatorLogin(browser)
            let csrf = try await WebChecks.csrf(browser, page: "/dashboard/tenants/TA")

            let invalid = try await browser.post("/dashboard/tenants/TA/settings", [
                ("csrf_token", csrf), ("model", "gpt-4o"), ("system_prompt", ""), ("rate_limit", "lots"),
            ])
            #expect(invalid.status == 400)
            #expect(invalid.body.contains("50/minute"))
            #expect(try await h.stores.installations.find(tenantID: "TA")?.settings == TenantSettings())

            let prompt = "You are <b>terse</b> & kind."
            let saved = try await browser.post("/dashboard/tenants/TA/settings", [
                ("csrf_token", csrf), ("model", "gpt-4o"), ("system_prompt", prompt), ("rate_limit", "50/minute"),
            ])
            #expect(saved.status == 303)
            let settings = try #require(try await h.stores.installations.find(tenantID: "TA")).settings
            let fifty = RateLimitSpec(limit: 50, windowSeconds: 60)
            #expect(settings == TenantSettings(model: "gpt-4o", systemPrompt: prompt, rateLimit: fifty, rateLimitCeiling: fifty))
            let page = try await browser.get(try #require(saved.location))
            #expect(page.body.contains("Settings saved"))
            #expect(page.body.contains("You are &lt;b&gt;terse&lt;/b&gt; &amp; kind."))
            let entry = try #require(try await h.stores.auditLog.recent(tenantID: "TA", action: "settings_changed").first)
            #expect(entry.actor == "operator")
            #expect(entry.detail.contains("model: default → gpt-4o"))

            #expect(try await browser.post("/dashboard/tenants/TA/status", [("csrf_token", csrf), ("status", "inactive")]).status == 303)
            #expect(try await h.stores.installations.find(tenantID: "TA")?.status == .inactive)
            #expect(try await browser.post("/dashboard/tenants/TA/status", [("csrf_token", csrf), ("status", "active")]).status == 303)
            #expect(try await h.stores.installations.find(tenantID: "TA")?.status == .active)
            let actions = try await h.stores.auditLog.recent(tenantID: "TA").map(\.action)
            #expect(actions.contains("deactivated") && actions.contains("reactivated"))

            // Emptying the fields goes back to the deployment's defaults.
            _ = try await browser.post("/dashboard/tenants/TA/settings", [("csrf_token", csrf), ("model", ""), ("system_prompt", ""), ("rate_limit", "")])
            #expect(try await h.stores.installations.find(tenantID: "TA")?.settings == TenantSettings())
        }
    }

    @Test("a workspace admin of team A can neither read nor change team B", arguments: TestDatabaseKind.allCases)
    func tenantIsolation(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            try await WebChecks.install(h, h.browser(), Self.teamA)
            try await WebChecks.install(h, h.browser(), Self.teamB)
            let admin = h.browser()
            let signedIn = try await WebChecks.slackSignIn(h, admin, userID: "UA1", teamID: "TA")
            #expect(signedIn.status == 303)
            #expect(signedIn.location == "/dashboard")
            #expect(admin.cookies["eb_signin_state"] == nil)

            let dashboard = try await admin.get("/dashboard")
            #expect(dashboard.status == 200)
            #expect(dashboard.body.contains("Team A"))
            #expect(!dashboard.body.contains("Team B") && !dashboard.body.contains("slack:UB1"))
            let csrf = try #require(dashboard.field("csrf_token"))

            #expect(try await admin.get("/dashboard/tenants/TB").status == 403)
            #expect(try await admin.get("/dashboard/tenants/NOPE").status == 403)
            #expect(try await admin.get("/dashboard/audit?tenant=TB").status == 403)
            #expect(try await admin.get("/dashboard/system").status == 403)
            let audit = try await admin.get("/dashboard/audit")
            #expect(audit.status == 200 && !audit.body.contains("slack:UB1"))
            let change = try await admin.post("/dashboard/tenants/TB/settings", [("csrf_token", csrf), ("model", "evil"), ("tenant", "TB")])
            #expect(change.status == 403)
            let deactivate = try await admin.post("/dashboard/tenants/TB/status", [("csrf_token", csrf), ("status", "inactive")])
            #expect(deactivate.status == 403)
            let b = try #require(try await h.stores.installations.find(tenantID: "TB"))
            #expect(b.settings == TenantSettings() && b.status == .active)

            // Their own workspace they can change; the audit entry names them.
            let own = try await admin.post("/dashboard/tenants/TA/settings", [("csrf_token", csrf), ("model", "gpt-4o-mini"), ("tenant", "TB")])
            #expect(own.status == 303)
            #expect(try await h.stores.installations.find(tenantID: "TA")?.settings.model == "gpt-4o-mini")
            #expect(try await h.stores.installations.find(tenantID: "TB")?.settings.model == nil)
            #expect(try await h.stores.auditLog.recent(tenantID: "TA", action: "settings_changed").first?.actor == "slack:UA1")
        }
    }

    @Test("Sign in with Slack: admins per users.info may, members and other workspaces may not", arguments: TestDatabaseKind.allCases)
    func signInRules(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            try await WebChecks.install(h, h.browser(), Self.teamA)

            let admin = h.browser()
            #expect(try await WebChecks.slackSignIn(h, admin, userID: "UAADMIN", teamID: "TA").status == 303)
            #expect(try await admin.get("/dashboard/tenants/TA").status == 200)

            let member = h.browser()
            let refused = try await WebChecks.slackSignIn(h, member, userID: "UMEMBER", teamID: "TA")
            #expect(refused.status == 403)
            #expect(refused.body.contains("Only workspace admins"))
            #expect(member.cookies["eb_session"] == nil)

            let stranger = h.browser()
            let notInstalled = try await WebChecks.slackSignIn(h, stranger, userID: "UX", teamID: "TOTHER")
            #expect(notInstalled.status == 404)
            #expect(stranger.cookies["eb_session"] == nil)

            // The sign-in state is single-use and bound to the browser, like the install state.
            let start = try await h.browser().get("/auth/slack")
            let state = try #require(WebChecks.state(in: start.location ?? ""))
            let noCookie = try await h.browser().get("/auth/slack/callback?code=\(h.slack.issueSignInCode(userID: "UA1", teamID: "TA"))&state=\(state)")
            #expect(noCookie.status == 400)
        }
    }
}
