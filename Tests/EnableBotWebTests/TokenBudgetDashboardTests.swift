import EnableBotCore
import EnableBotWeb
import Foundation
import Testing
import TestSupport

/// Issue 11 on the dashboard: the operator sets a workspace's token budget, its admins cannot, and both see the
/// month's tokens against it.
@Suite("Token budgets on the dashboard", .timeLimit(.minutes(2)))
struct TokenBudgetDashboardTests {
    static let teamA = FakeSlack.Workspace(teamID: "TA", teamName: "Team A", installerUserID: "UA1", admins: ["UAADMIN"])

    @Test("the operator sets a workspace's budget; a workspace admin cannot change it; usage is shown against it",
          arguments: TestDatabaseKind.allCases)
    func operatorSetsBudget(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind, configure: { $0.tokenBudgetPerTenant = TokenBudget(tokensPerMonth: 2_000_000) }) { h in
            try await WebChecks.install(h, h.browser(), Self.teamA)
            func stored() async throws -> Installation { try #require(try await h.stores.installations.find(tenantID: "TA")) }
            func refusals() async throws -> Int { try await h.stores.auditLog.recent(tenantID: "TA", action: "refused").count }
            func save(_ browser: TestBrowser, _ csrf: String, budget: String?) async throws -> TestBrowser.Page {
                var fields = [("csrf_token", csrf), ("model", ""), ("system_prompt", "Be brief."), ("rate_limit", "")]
                if let budget { fields.append(("token_budget", budget)) }
                return try await browser.post("/dashboard/tenants/TA/settings", fields)
            }
            try await h.stores.usage.add([
                UsageKey(tenantID: "TA", day: UsageCounters.day(h.clock.now)): Usage(promptTokens: 1200, completionTokens: 300),
            ])

            let op = h.browser()
            try await WebChecks.operatorLogin(op)
            let before = try await op.get("/dashboard/tenants/TA")
            #expect(before.body.contains("1,500 used this month"))
            #expect(before.body.contains("of 2,000,000 tokens/month"))
            #expect(before.body.contains("name=\"token_budget\""))
            let opCSRF = try await WebChecks.csrf(op, page: "/dashboard/tenants/TA")
            let bad = try await save(op, opCSRF, budget: "lots")
            #expect(bad.status == 400)
            #expect(bad.body.contains("2000000/month"))
            #expect(try await save(op, opCSRF, budget: "5000/month").status == 303)
            #expect(try await stored().settings.tokenBudget == TokenBudget(tokensPerMonth: 5000))
            let change = try #require(try await h.stores.auditLog.recent(tenantID: "TA", action: "settings_changed").first)
            #expect(change.detail.contains("token budget: default → 5000/month"))

            let page = try await op.get("/dashboard/tenants/TA")
            #expect(page.body.contains("1,500 used this month (1,200 prompt, 300 completion) of 5,000 tokens/month (30%)"))
            #expect(page.body.contains("value=\"5000/month\""))
            let overview = try await op.get("/dashboard")
            #expect(overview.body.contains("1,500<br><span class=\"small\">of 5,000 tokens/month"))

            // A workspace admin sees it, may save the rest of the form, and may not change the budget at all.
            let admin = h.browser()
            #expect(try await WebChecks.slackSignIn(h, admin, userID: "UAADMIN", teamID: "TA").status == 303)
            let adminPage = try await admin.get("/dashboard/tenants/TA")
            #expect(adminPage.body.contains("of 5,000 tokens/month"))
            #expect(!adminPage.body.contains("name=\"token_budget\""))
            let csrf = try await WebChecks.csrf(admin, page: "/dashboard/tenants/TA")
            #expect(try await save(admin, csrf, budget: nil).status == 303)
            #expect(try await save(admin, csrf, budget: "5000/month").status == 303)  // unchanged: nothing to refuse
            for attempt in ["9000000/month", "0", "", "100/month"] {
                let refused = try await save(admin, csrf, budget: attempt)
                #expect(refused.status == 403, "\(attempt)")
                #expect(refused.body.contains("Only the operator can change this workspace&#39;s token budget."))
            }
            #expect(try await stored().settings.tokenBudget == TokenBudget(tokensPerMonth: 5000))
            #expect(try await refusals() == 4)
            #expect(try await h.stores.auditLog.recent(tenantID: "TA", action: "refused").first?.actor == "slack:UAADMIN")

            // Used up: shown as such. Emptying the field returns the workspace to the deployment's budget; 0 is unlimited.
            try await h.stores.usage.add([
                UsageKey(tenantID: "TA", day: UsageCounters.day(h.clock.now)): Usage(promptTokens: 3500, completionTokens: 0),
            ])
            #expect(try await op.get("/dashboard/tenants/TA").body.contains("budget used up"))
            #expect(try await op.get("/dashboard").body.contains("used up"))
            #expect(try await save(op, opCSRF, budget: "").status == 303)
            #expect(try await stored().settings.tokenBudget == nil)
            #expect(try await save(op, opCSRF, budget: "0").status == 303)
            #expect(try await stored().settings.tokenBudget == .unlimited)
            #expect(try await op.get("/dashboard/tenants/TA").body.contains("5,000 used this month (4,700 prompt, 300 completion) of unlimited"))
        }
    }
}
