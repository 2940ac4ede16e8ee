import EnableBotCore
import Foundation
import Testing
import TestSupport

/// A real browser: headless Chromium (driven by scripts/browser_driver.py with Selenium 4 through Debian's
/// chromedriver, `$CHROMEDRIVER` or /usr/bin/chromedriver) installs through the install page and a fake Slack,
/// signs in as the operator, changes a tenant's settings and views the dashboard on desktop and phone sizes.
/// Screenshots land in `$ENABLEBOT_TEST_ARTIFACTS/screenshots` (default `test-artifacts/screenshots`).
/// Set `ENABLEBOT_SKIP_BROWSER=1` to skip where no Chromium exists.
@Suite("Browser", .timeLimit(.minutes(3)))
struct BrowserTests {
    @Test("headless Chromium: install page, Add to Slack, operator login, settings form, dashboard on a phone",
          .enabled(if: BrowserDriver.enabled))
    func chromium() async throws {
        try await withWebHarness(.sqlite, configure: { $0.llmModels = ["gpt-4o-mini", "gpt-4o-browser"] }) { h in
            let northwind = FakeSlack.Workspace(teamID: "T0NORTH", teamName: "Northwind", installerUserID: "UN1")
            try await WebChecks.install(h, h.browser(), northwind)
            try await h.stores.usage.increment(tenantID: "T0NORTH", .events, by: 1_284)
            try await h.stores.usage.increment(tenantID: "T0NORTH", .rateLimited, by: 3)
            try await h.stores.installations.recordError(tenantID: "T0NORTH", error: "chat.postMessage: not_in_channel")
            h.slack.approveBrowserInstalls(
                of: FakeSlack.Workspace(teamID: "T0ACME", teamName: "Acme Corp", installerUserID: "UACME"),
                callback: h.baseURL + "/slack/oauth/callback"
            )

            let out = BrowserDriver.artifacts.appendingPathComponent("screenshots")
            let result = try await BrowserDriver.run("browser_driver.py", [
                "--base", h.baseURL, "--password", WebTestHarness.password, "--out", out.path, "--model", "gpt-4o-browser",
            ])
            #expect(result.status == 0, "browser driver: \(result.output)")
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
            #expect(seen["error"] == nil, "\(seen["error"] ?? "")")
            #expect((seen["steps"] as? [String]) == ["install", "login", "settings", "system", "phone"])
            #expect(seen["phone_overflow"] as? Bool == false, "the dashboard is wider than a phone screen")
            for name in ["01-install.png", "04-dashboard.png", "08-dashboard-phone.png"] {
                #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(name).path), "\(name)")
            }

            // What the browser did is what the stores hold.
            let acme = try #require(try await h.stores.installations.find(tenantID: "T0ACME"))
            #expect(acme.teamName == "Acme Corp")
            let fifty = RateLimitSpec(limit: 50, windowSeconds: 60)
            #expect(acme.settings == TenantSettings(model: "gpt-4o-browser", systemPrompt: "Answer briefly.", rateLimit: fifty, rateLimitCeiling: fifty))
            try await WebChecks.expectNoPlaintextTokens(h)
        }
    }
}
