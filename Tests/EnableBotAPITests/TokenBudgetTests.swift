import EnableBotAPI
import EnableBotCore
import Foundation
import HummingbirdTesting
import Testing
import TestSupport

/// Issue 11: `TOKEN_BUDGET_PER_TENANT` and a workspace's own budget stop model calls once the month's tokens reach it.
@Suite("Token budgets", .timeLimit(.minutes(2)))
struct TokenBudgetTests {
    /// Mid-month, so a day later is still the same month.
    static let start = ISO8601DateFormatter().date(from: "2026-03-10T12:00:00Z")!

    @Test("the month's tokens reaching the budget stop model calls (+0 tokens); one notice a day; counted and audited",
          arguments: TestDatabaseKind.allCases)
    func budgetStopsCalls(kind: TestDatabaseKind) async throws {
        let clock = TestClock(Self.start)
        // 40 tokens a call: the third call reaches a 120-token budget exactly.
        try await withAPIHarness(kind, now: clock.function, configure: { $0.tokenBudgetPerTenant = TokenBudget(tokensPerMonth: 120) }) { harness in
            harness.llm.reportUsage(prompt: 30, completion: 10)
            @Sendable func audited() async throws -> Int {
                try await harness.stores.auditLog.recent(tenantID: "T1", action: "budget_exhausted").count
            }
            @Sendable func waitForAudits(_ count: Int) async throws {
                let deadline = ContinuousClock.now + .seconds(30)  // generous: a loaded machine, not a timing target
                while try await audited() < count, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                #expect(try await audited() == count)
            }
            try await harness.run { client in
                var sent = 0
                func send(team: String = "T1") async throws {
                    sent += 1
                    let body = SlackRequests.mention(eventID: "EvBudget\(sent)", team: team, ts: "900.\(sent)")
                    let response = try await client.postEvent(
                        body, headers: SlackRequests.headers(body: body, timestamp: Int(clock.now.timeIntervalSince1970)))
                    #expect(response.status == .ok)
                }
                for answered in 1...3 {
                    try await send()
                    await harness.slack.waitForCalls("chat.postMessage", count: answered)
                }
                #expect(harness.llm.calls.count == 3)

                // 120 of 120 used: the next two events make no model call; the person is told once.
                try await send()
                try await send()
                try await waitForAudits(2)
                await harness.slack.waitForCalls("chat.postEphemeral")
                try await Task.sleep(for: .milliseconds(300))
                #expect(harness.llm.calls.count == 3)
                #expect(harness.slack.calls("chat.postMessage").count == 3)
                #expect(harness.slack.calls("chat.postEphemeral").count == 1)

                // Another workspace has its own month.
                try await send(team: "T2")
                await harness.slack.waitForCalls("chat.postMessage", count: 4)
                #expect(harness.llm.calls.count == 4)

                // The operator's budget for the workspace wins over the deployment's: 40 more tokens, exactly one call.
                try await harness.stores.installations.updateSettings(
                    tenantID: "T1", settings: TenantSettings(tokenBudget: TokenBudget(tokensPerMonth: 160)))
                try await send()
                await harness.slack.waitForCalls("chat.postMessage", count: 5)
                try await send()
                try await waitForAudits(3)
                #expect(harness.llm.calls.count == 5)
                #expect(harness.slack.calls("chat.postEphemeral").count == 1)

                // A day later (same month): still no model call, and one new notice.
                clock.advance(by: 86_400)
                try await send()
                try await send()
                try await waitForAudits(5)
                await harness.slack.waitForCalls("chat.postEphemeral", count: 2)
                try await Task.sleep(for: .milliseconds(300))
                #expect(harness.llm.calls.count == 5)
                #expect(harness.slack.calls("chat.postEphemeral").count == 2)

                try await client.execute(uri: "/metrics", method: .get) { response in
                    let text = String(buffer: response.body)
                    #expect(text.contains("llm_budget_exhausted_total"))
                    let tokenLines = text.split(separator: "\n").filter { $0.hasPrefix("llm_tokens_total{") }
                    #expect(tokenLines.contains { $0.contains("kind=\"prompt\"") && $0.contains("model=\"gpt-4o-mini\"") })
                    #expect(tokenLines.contains { $0.contains("kind=\"completion\"") })
                    // Labelled by model and kind only: no tenant.
                    let labelNames = Set(tokenLines.flatMap { line in line.matches(of: /([a-z_]+)="/).map { String($0.output.1) } })
                    #expect(labelNames == ["model", "kind"])
                }
            }
            // Written by the last flush at shutdown: four calls of 40 tokens for T1, one for T2.
            let month = try await harness.stores.usage.thisMonth(tenantID: "T1")
            #expect(month.promptTokens == 120 && month.completionTokens == 40)
            #expect(try await harness.stores.usage.monthTokens(tenantID: "T2", day: UsageCounters.day(clock.now)) == 40)
            let notice = try #require(harness.slack.calls("chat.postEphemeral").first)
            #expect(notice.fields["user"] == "U1")
            #expect(notice.fields["text"]?.contains("budget") == true)
            #expect(try await harness.stores.jobs.count(status: .done) == 10)
            harness.expectNoSecretsLogged()
        }
    }

    @Test("no budget (0): calls go on, and the tokens are still counted")
    func unlimited() async throws {
        try await withAPIHarness(.sqlite) { harness in
            harness.llm.reportUsage(prompt: 1_000_000, completion: 1_000_000)
            try await harness.run { client in
                for i in 0..<2 { _ = try await client.postEvent(SlackRequests.mention(eventID: "EvFree\(i)", ts: "950.\(i)")) }
                await harness.slack.waitForCalls("chat.postMessage", count: 2)
            }
            #expect(harness.llm.calls.count == 2)
            #expect(try await harness.stores.usage.thisMonth(tenantID: "T1").tokens == 4_000_000)
        }
    }
}
