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
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static var artifacts: URL {
        let env = ProcessInfo.processInfo.environment["ENABLEBOT_TEST_ARTIFACTS"].flatMap { $0.isEmpty ? nil : $0 }
        return env.map { URL(fileURLWithPath: $0) } ?? packageRoot.appendingPathComponent("test-artifacts")
    }

    static let enabled = ProcessInfo.processInfo.environment["ENABLEBOT_SKIP_BROWSER"] != "1"

    static var chromedriver: String {
        ProcessInfo.processInfo.environment["CHROMEDRIVER"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/bin/chromedriver"
    }

    @Test("headless Chromium: install page, Add to Slack, operator login, settings form, dashboard on a phone",
          .enabled(if: enabled))
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

            let out = Self.artifacts.appendingPathComponent("screenshots")
            let result = try await Self.runDriver([
                "--base", h.baseURL, "--password", WebTestHarness.password, "--out", out.path, "--model", "gpt-4o-browser",
                "--chromedriver", Self.chromedriver,
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

    /// Runs the Python driver without blocking a Swift concurrency thread; stdout goes through a file.
    static func runDriver(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let outputFile = URL(fileURLWithPath: TestPaths.temporaryDirectory()).appendingPathComponent("driver.json")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: outputFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", packageRoot.appendingPathComponent("scripts/browser_driver.py").path] + arguments
        process.standardOutput = handle
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        try handle.close()
        let output = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        return (status, output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
