import EnableBotCore
import Foundation
import Testing
import TestSupport

/// The Slack OAuth v2 install flow over real HTTP against a fake Slack, on SQLite and PostgreSQL.
@Suite("Install flow", .timeLimit(.minutes(2)))
struct InstallFlowTests {
    static let acme = FakeSlack.Workspace(teamID: "T1ACME", teamName: "Acme", installerUserID: "UINSTALL1")

    @Test("success: tokens sealed, audit entry, success page with links, cookie cleared", arguments: TestDatabaseKind.allCases)
    func success(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            let browser = h.browser()
            let install = try await browser.get("/slack/install")
            #expect(install.status == 200)
            #expect(install.body.contains("Add to Slack"))
            #expect(install.body.contains("users:read"))
            let link = try #require(WebChecks.href(install.body, id: "add-to-slack"))
            #expect(link.hasPrefix(h.slack.authorizeURL + "?"))
            let query = try WebChecks.query(of: link)
            #expect(query["client_id"] == "111.222")
            #expect(query["scope"] == "app_mentions:read,assistant:write,chat:write,im:history,im:read,im:write,commands,users:read")
            #expect(query["redirect_uri"] == "http://localhost:8000/slack/oauth/callback")
            let state = try #require(WebChecks.state(in: link))
            #expect(state.count >= 22)
            let cookie = try #require(install.setCookies.first { $0.hasPrefix("eb_install_state=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Max-Age=600"))
            #expect(!cookie.contains("Secure"))
            WebChecks.expectSecurityHeaders(install)

            var acme = Self.acme
            acme.rotating = true
            acme.userToken = true
            let code = h.slack.issueInstallCode(acme)
            let done = try await browser.get("/slack/oauth/callback?code=\(code)&state=\(state)")
            #expect(done.status == 200)
            #expect(done.body.contains("slack://app?"))
            #expect(done.body.contains("team=T1ACME") && done.body.contains("id=AFAKEAPP"))
            #expect(done.body.contains("href=\"/dashboard\""))
            #expect(browser.cookies["eb_install_state"] == nil)
            WebChecks.expectSecurityHeaders(done)

            let installation = try #require(try await h.stores.installations.find(tenantID: "T1ACME"))
            #expect(installation.teamName == "Acme")
            #expect(installation.botID == "BBOTT1ACME")
            #expect(installation.installerUserID == "UINSTALL1")
            #expect(installation.status == .active)
            #expect(!installation.isEnterpriseInstall)
            let tokens = try #require(try await h.stores.installations.tokens(tenantID: "T1ACME"))
            #expect(tokens.botToken?.hasPrefix("xoxb-fake-") == true)
            #expect(tokens.userToken?.hasPrefix("xoxp-fake-") == true)
            #expect(tokens.refreshToken?.hasPrefix("xoxe-1-fake-") == true)
            #expect(tokens.expiresAt.map { abs($0.timeIntervalSince(h.clock.now) - 43_200) < 2 } == true)
            let audit = try await h.stores.auditLog.recent(tenantID: "T1ACME")
            #expect(audit.first?.action == "install")
            #expect(audit.first?.actor == "slack:UINSTALL1")
            try await WebChecks.expectNoPlaintextTokens(h)
        }
    }

    @Test("over https the state cookie is Secure; user scopes go into the link when set", arguments: TestDatabaseKind.allCases)
    func secureCookie(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind, configure: {
            $0.slackRedirectURI = "https://bot.example.com/slack/oauth/callback"
            $0.slackUserScopes = "search:read"
        }) { h in
            let page = try await h.browser().get("/slack/install")
            let cookie = try #require(page.setCookies.first { $0.hasPrefix("eb_install_state=") })
            #expect(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"))
            let query = try WebChecks.query(of: try #require(WebChecks.href(page.body, id: "add-to-slack")))
            #expect(query["redirect_uri"] == "https://bot.example.com/slack/oauth/callback")
            #expect(query["user_scope"] == "search:read")
            #expect(page.body.contains("On behalf of the person installing"))
            // Without user scopes the link has no user_scope at all.
            try await withWebHarness(kind) { plain throws in
                #expect(!(try await plain.browser().get("/slack/install").body.contains("user_scope")))
            }
        }
    }

    @Test("access_denied: a friendly cancelled page, nothing stored", arguments: TestDatabaseKind.allCases)
    func accessDenied(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            let browser = h.browser()
            let state = try await WebChecks.startInstall(browser)
            let page = try await browser.get("/slack/oauth/callback?error=access_denied&state=\(state)")
            #expect(page.status == 403)
            #expect(page.body.contains("Installation cancelled"))
            #expect(browser.cookies["eb_install_state"] == nil)
            try await WebChecks.expectNothingStored(h)
            #expect(h.slack.calls("oauth.v2.access").count == 0)
            // The state was burnt with the cancel: it cannot be used afterwards.
            browser.setCookie("eb_install_state", state)
            let later = try await browser.get("/slack/oauth/callback?code=\(h.slack.issueInstallCode(Self.acme))&state=\(state)")
            #expect(later.status == 409)
        }
    }

    @Test("missing code or state: 400, nothing stored", arguments: TestDatabaseKind.allCases)
    func missingCode(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            let browser = h.browser()
            let state = try await WebChecks.startInstall(browser)
            let noCode = try await browser.get("/slack/oauth/callback?state=\(state)")
            #expect(noCode.status == 400)
            #expect(noCode.body.contains("Incomplete installation link"))
            #expect(browser.cookies["eb_install_state"] == nil)
            let noState = try await browser.get("/slack/oauth/callback?code=abc")
            #expect(noState.status == 400)
            try await WebChecks.expectNothingStored(h)
            #expect(h.slack.calls("oauth.v2.access").count == 0)
        }
    }

    @Test("unknown, expired and reused states are refused", arguments: TestDatabaseKind.allCases)
    func badStates(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            let browser = h.browser()

            browser.setCookie("eb_install_state", "made-up-state-value-0000")
            let unknown = try await browser.get("/slack/oauth/callback?code=\(h.slack.issueInstallCode(Self.acme))&state=made-up-state-value-0000")
            #expect(unknown.status == 400)
            #expect(unknown.body.contains("Unknown installation link"))

            let old = try await WebChecks.startInstall(browser)
            h.clock.advance(by: 601)
            let expired = try await browser.get("/slack/oauth/callback?code=\(h.slack.issueInstallCode(Self.acme))&state=\(old)")
            #expect(expired.status == 400)
            #expect(expired.body.contains("expired"))
            try await WebChecks.expectNothingStored(h)

            let state = try await WebChecks.startInstall(browser)
            let first = try await browser.get("/slack/oauth/callback?code=\(h.slack.issueInstallCode(Self.acme))&state=\(state)")
            #expect(first.status == 200)
            browser.setCookie("eb_install_state", state)
            let again = try await browser.get("/slack/oauth/callback?code=\(h.slack.issueInstallCode(Self.acme))&state=\(state)")
            #expect(again.status == 409)
            #expect(again.body.contains("already used"))
            #expect(h.slack.calls("oauth.v2.access").count == 1)
        }
    }

    @Test("missing and mismatched state cookie are refused, and leave the state usable", arguments: TestDatabaseKind.allCases)
    func cookies(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            let victim = h.browser()
            let state = try await WebChecks.startInstall(victim)

            // The link opened in another browser (no cookie), or an attacker's browser with its own state.
            let other = h.browser()
            let missing = try await other.get("/slack/oauth/callback?code=\(h.slack.issueInstallCode(Self.acme))&state=\(state)")
            #expect(missing.status == 400)
            #expect(missing.body.contains("Start again in this browser"))
            _ = try await WebChecks.startInstall(other)
            let mismatched = try await other.get("/slack/oauth/callback?code=\(h.slack.issueInstallCode(Self.acme))&state=\(state)")
            #expect(mismatched.status == 403)
            try await WebChecks.expectNothingStored(h)
            #expect(h.slack.calls("oauth.v2.access").count == 0)

            let done = try await victim.get("/slack/oauth/callback?code=\(h.slack.issueInstallCode(Self.acme))&state=\(state)")
            #expect(done.status == 200)
        }
    }

    @Test("16 concurrent callbacks with one state: exactly one proceeds", arguments: TestDatabaseKind.allCases)
    func concurrentCallbacks(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            let state = try await WebChecks.startInstall(h.browser())
            let code = h.slack.issueInstallCode(Self.acme)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<16 {
                    let browser = h.browser()
                    browser.setCookie("eb_install_state", state)
                    group.addTask { try await browser.get("/slack/oauth/callback?code=\(code)&state=\(state)").status }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 1)
            #expect(statuses.filter { $0 == 409 }.count == 15)
            #expect(h.slack.calls("oauth.v2.access").count == 1)
            #expect(try await h.stores.installations.all().count == 1)
            #expect(try await h.stores.auditLog.recent(action: "install").count == 1)
        }
    }

    @Test("Slack answering ok:false: 502, nothing stored, no raw answer shown", arguments: TestDatabaseKind.allCases)
    func slackRefuses(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            let browser = h.browser()
            h.slack.fail("oauth.v2.access", with: "invalid_code")
            let state = try await WebChecks.startInstall(browser)
            let page = try await browser.get("/slack/oauth/callback?code=\(h.slack.issueInstallCode(Self.acme))&state=\(state)")
            #expect(page.status == 502)
            #expect(page.body.contains("Slack refused the installation"))
            #expect(page.body.contains("invalid_code"))
            #expect(!page.body.contains("\"ok\""))
            #expect(browser.cookies["eb_install_state"] == nil)
            try await WebChecks.expectNothingStored(h)

            // auth.test failing after a good exchange stores nothing either.
            try await withWebHarness(kind) { second in
                second.slack.fail("auth.test", with: "invalid_auth")
                let b2 = second.browser()
                let s2 = try await WebChecks.startInstall(b2)
                let page2 = try await b2.get("/slack/oauth/callback?code=\(second.slack.issueInstallCode(Self.acme))&state=\(s2)")
                #expect(page2.status == 502)
                try await WebChecks.expectNothingStored(second)
                try await WebChecks.expectNoPlaintextTokens(second)
            }
        }
    }

    @Test("Slack unreachable: 503, nothing stored", arguments: TestDatabaseKind.allCases)
    func slackUnreachable(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind, slackAPIBaseURL: "http://127.0.0.1:9/api") { h in
            let browser = h.browser()
            let state = try await WebChecks.startInstall(browser)
            let page = try await browser.get("/slack/oauth/callback?code=\(h.slack.issueInstallCode(Self.acme))&state=\(state)")
            #expect(page.status == 503)
            #expect(page.body.contains("Slack could not be reached"))
            #expect(!page.body.contains("127.0.0.1"))
            try await WebChecks.expectNothingStored(h)
        }
    }

    @Test("reinstall updates the same tenant, reactivates it and keeps its settings", arguments: TestDatabaseKind.allCases)
    func reinstall(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            let browser = h.browser()
            try await WebChecks.install(h, browser, Self.acme)
            let firstToken = try await h.stores.installations.tokens(tenantID: "T1ACME")?.botToken
            try await h.stores.installations.updateSettings(tenantID: "T1ACME", settings: TenantSettings(model: "gpt-kept"))
            try await h.stores.installations.deactivateAndDeleteTokens(tenantID: "T1ACME")

            h.clock.advance(by: 3600)
            var renamed = Self.acme
            renamed.teamName = "Acme Renamed"
            let page = try await WebChecks.install(h, browser, renamed)
            #expect(page.body.contains("reinstalled"))
            let installations = try await h.stores.installations.all()
            #expect(installations.count == 1)
            let found = try #require(installations.first)
            #expect(found.status == .active)
            #expect(found.teamName == "Acme Renamed")
            #expect(found.settings.model == "gpt-kept")
            let token = try await h.stores.installations.tokens(tenantID: "T1ACME")?.botToken
            #expect(token != nil && token != firstToken)
            #expect(try await h.stores.auditLog.recent(tenantID: "T1ACME").map(\.action).contains("reinstall"))
            try await WebChecks.expectNoPlaintextTokens(h)
        }
    }

    @Test("org-wide (Enterprise Grid) install: the enterprise is the tenant", arguments: TestDatabaseKind.allCases)
    func orgWide(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            let org = FakeSlack.Workspace(
                teamID: nil, teamName: "", enterpriseID: "E1GRID", enterpriseName: "Big Org", orgWide: true, installerUserID: "UORG"
            )
            let page = try await WebChecks.install(h, h.browser(), org)
            #expect(page.body.contains("Big Org"))
            #expect(page.body.contains("organisation-wide"))
            let found = try #require(try await h.stores.installations.find(tenantID: "E1GRID"))
            #expect(found.isEnterpriseInstall)
            #expect(found.teamID == nil)
            #expect(found.enterpriseID == "E1GRID")
            #expect(found.teamName == "Big Org")
            // Events from any team of the org find it.
            let authorized = try await h.stores.installations.authorize(teamID: "T-IN-ORG", enterpriseID: "E1GRID", isEnterpriseInstall: false)
            #expect(authorized?.tenantID == "E1GRID")
            try await WebChecks.expectNoPlaintextTokens(h)
        }
    }
}
