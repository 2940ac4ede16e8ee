import EnableBotCore
@testable import EnableBotWeb
import Foundation
import Testing
import TestSupport

/// The suggested prompts of a workspace's assistant threads, edited on its dashboard page: who may, what is valid.
@Suite("Suggested prompts on the dashboard", .timeLimit(.minutes(2)))
struct SuggestedPromptsDashboardTests {
    static let teamA = FakeSlack.Workspace(teamID: "TA", teamName: "Team A", installerUserID: "UA1")
    static let teamB = FakeSlack.Workspace(teamID: "TB", teamName: "Team B", installerUserID: "UB1")

    static func prompts(_ h: WebTestHarness, _ tenant: String = "TA") async throws -> [SuggestedPrompt]? {
        try await h.stores.installations.find(tenantID: tenant)?.settings.suggestedPrompts
    }

    @Test("a workspace admin saves prompts; the page shows them; blank goes back to the defaults; the change is audited",
          arguments: TestDatabaseKind.allCases)
    func adminSaves(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            try await WebChecks.install(h, h.browser(), Self.teamA)
            let admin = h.browser()
            #expect(try await WebChecks.slackSignIn(h, admin, userID: "UA1", teamID: "TA").status == 303)
            let csrf = try await WebChecks.csrf(admin, page: "/dashboard/tenants/TA")
            let page = try await admin.get("/dashboard/tenants/TA")
            #expect(page.body.contains("name=\"suggested_prompts\""))
            #expect(page.body.contains("Summarize a topic"))  // the defaults, as the placeholder

            let saved = try await admin.post("/dashboard/tenants/TA/settings", [
                ("csrf_token", csrf), ("model", ""), ("system_prompt", ""), ("rate_limit", ""),
                ("suggested_prompts", "Release notes | Summarize this week's <release> notes.\r\n\r\n  What changed in the API this week?  \n"),
            ])
            #expect(saved.status == 303)
            #expect(try await Self.prompts(h) == [
                SuggestedPrompt(title: "Release notes", message: "Summarize this week's <release> notes."),
                SuggestedPrompt(title: "What changed in the API this", message: "What changed in the API this week?"),
            ])
            let shown = try await admin.get("/dashboard/tenants/TA")
            #expect(shown.body.contains("Release notes | Summarize this week&#39;s &lt;release&gt; notes.")
                || shown.body.contains("Release notes | Summarize this week's &lt;release&gt; notes."))
            let entry = try #require(try await h.stores.auditLog.recent(tenantID: "TA", action: "settings_changed").first)
            #expect(entry.actor == "slack:UA1")
            #expect(entry.detail.contains("suggested prompts: Release notes, What changed in the API this"))

            // A form without the field (an older page) leaves them; a blank field means the defaults.
            #expect(try await admin.post("/dashboard/tenants/TA/settings", [("csrf_token", csrf), ("model", "")]).status == 303)
            #expect(try await Self.prompts(h)?.count == 2)
            #expect(try await admin.post("/dashboard/tenants/TA/settings", [("csrf_token", csrf), ("suggested_prompts", " \n ")]).status == 303)
            #expect(try await Self.prompts(h) == nil)
            #expect(try await h.stores.auditLog.recent(tenantID: "TA", action: "settings_changed").first?.detail
                .contains("suggested prompts reset to default") == true)

            // The operator may set them too.
            let op = h.browser()
            try await WebChecks.operatorLogin(op)
            let opCSRF = try await WebChecks.csrf(op, page: "/dashboard/tenants/TA")
            #expect(try await op.post("/dashboard/tenants/TA/settings", [("csrf_token", opCSRF), ("suggested_prompts", "Hello | Say hello")]).status == 303)
            #expect(try await Self.prompts(h) == [SuggestedPrompt(title: "Hello", message: "Say hello")])
        }
    }

    @Test("invalid prompts are a 400 with a sentence saying why, and nothing is saved", arguments: TestDatabaseKind.allCases)
    func validation(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            try await WebChecks.install(h, h.browser(), Self.teamA)
            let admin = h.browser()
            #expect(try await WebChecks.slackSignIn(h, admin, userID: "UA1", teamID: "TA").status == 303)
            let csrf = try await WebChecks.csrf(admin, page: "/dashboard/tenants/TA")
            let kept = [SuggestedPrompt(title: "Kept", message: "Still here")]
            try await h.stores.installations.updateSettings(tenantID: "TA", settings: TenantSettings(suggestedPrompts: kept))
            func save(_ text: String) async throws -> TestBrowser.Page {
                try await admin.post("/dashboard/tenants/TA/settings", [
                    ("csrf_token", csrf), ("model", ""), ("system_prompt", "changed too"), ("suggested_prompts", text),
                ])
            }
            let cases: [(String, String)] = [
                ("a\nb\nc\nd\ne", "at most 4 suggested prompts"),
                ("Fine | ok\nTitle only |", "suggested prompt 2 has a title but no message"),
                ("Long | " + String(repeating: "x", count: 501), "message of suggested prompt 1 can be at most 500 characters"),
                (String(repeating: "t", count: 51) + " | message", "title of suggested prompt 1 can be at most 50 characters"),
            ]
            for (text, sentence) in cases {
                let refused = try await save(text)
                #expect(refused.status == 400, "\(sentence)")
                #expect(refused.body.lowercased().contains(sentence.lowercased()), "\(sentence)")
                #expect(refused.body.contains("name=\"suggested_prompts\""))  // the form again, with what was typed
            }
            #expect(try await Self.prompts(h) == kept)
            #expect(try await h.stores.installations.find(tenantID: "TA")?.settings.systemPrompt == nil)
            #expect(try await h.stores.auditLog.recent(tenantID: "TA", action: "settings_changed").isEmpty)
            // At the limits exactly: fine.
            let four = (1...4).map { "T\($0) | " + String(repeating: "m", count: 500) }.joined(separator: "\n")
            #expect(try await save(four).status == 303)
            #expect(try await Self.prompts(h)?.count == 4)
        }
    }

    @Test("another workspace's admin is refused and nothing changes", arguments: TestDatabaseKind.allCases)
    func otherWorkspaceRefused(kind: TestDatabaseKind) async throws {
        try await withWebHarness(kind) { h in
            try await WebChecks.install(h, h.browser(), Self.teamA)
            try await WebChecks.install(h, h.browser(), Self.teamB)
            let intruder = h.browser()
            #expect(try await WebChecks.slackSignIn(h, intruder, userID: "UB1", teamID: "TB").status == 303)
            let csrf = try await WebChecks.csrf(intruder, page: "/dashboard/tenants/TB")
            let refused = try await intruder.post("/dashboard/tenants/TA/settings", [
                ("csrf_token", csrf), ("suggested_prompts", "Phish | Click this link"),
            ])
            #expect(refused.status == 403)
            #expect(try await Self.prompts(h, "TA") == nil)
            #expect(try await Self.prompts(h, "TB") == nil)
            #expect(try await h.stores.auditLog.recent(tenantID: "TA", action: "settings_changed").isEmpty)
            // Without a session: to the sign-in page, nothing saved.
            let anonymous = try await h.browser().post("/dashboard/tenants/TA/settings", [("suggested_prompts", "x")])
            #expect(anonymous.status == 303 || anonymous.status == 403)
            #expect(try await Self.prompts(h, "TA") == nil)
        }
    }

    @Test("the textarea's lines: title and message, or a message whose first words make the title")
    func parsing() throws {
        #expect(try SettingsForm.suggestedPrompts([:]) == nil)
        #expect(try SettingsForm.suggestedPrompts(["suggested_prompts": ""]) == .some(nil))
        #expect(try SettingsForm.suggestedPrompts(["suggested_prompts": "A | b | c"]) == .some([SuggestedPrompt(title: "A", message: "b | c")]))
        #expect(try SettingsForm.suggestedPrompts(["suggested_prompts": " | just a message"])
            == .some([SuggestedPrompt(title: "just a message", message: "just a message")]))
        #expect(SettingsForm.derivedTitle("Supercalifragilisticexpialidocious-and-more") == "Supercalifragilisticexpialido…")
        #expect(SettingsForm.derivedTitle("Explain it").count <= SettingsForm.derivedTitleLength)
        #expect(throws: SettingsForm.Invalid.self) { try SettingsForm.suggestedPrompts(["suggested_prompts": "bad \u{0} byte"]) }
        #expect(SettingsForm.promptsText(SuggestedPrompt.defaults).split(separator: "\n").count == 3)
    }
}
