import EnableBotAPI
import EnableBotCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// The whole event path over real HTTP: signed events in, the fake model asked, the fake Slack Web API answered.
@Suite("Event flow")
struct EventFlowTests {
    @Test("a mention gets exactly one reply, in its thread, with the tenant's token", arguments: TestDatabaseKind.allCases)
    func mention(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind) { harness in
            let t1 = harness.tenant("T1")
            try await harness.run { client in
                let response = try await client.postEvent(SlackRequests.mention(eventID: "EvM1", ts: "1800000000.000100"))
                #expect(response.status == .ok)
                let replies = await harness.slack.waitForCalls("chat.postMessage")
                #expect(replies.count == 1)
                let reply = try #require(replies.first)
                #expect(reply.bearerToken == t1.botToken)
                #expect(reply.fields["channel"] == "C1")
                #expect(reply.fields["thread_ts"] == "1800000000.000100")
                #expect(reply.fields["text"] == "Echo: what is a sliding window?")
            }
            let calls = harness.llm.calls
            #expect(calls.count == 1)
            #expect(calls.first?.authorization == "Bearer \(APIHarness.llmKey)")
            #expect(calls.first?.model == "gpt-4o-mini")
            #expect(calls.first?.messages.first?.role == "system")
            #expect(calls.first?.messages.last == FakeLLM.Message(role: "user", content: "what is a sliding window?"))
            #expect(harness.slack.calls("chat.postMessage").count == 1)
            #expect(try await harness.stores.usage.today(tenantID: "T1").llmCalls == 1)
            harness.expectNoSecretsLogged()
        }
    }

    @Test("the second turn's model request carries the first turn; tenant prompt and model apply", arguments: TestDatabaseKind.allCases)
    func threadMemory(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind) { harness in
            try await harness.stores.installations.updateSettings(
                tenantID: "T1", settings: TenantSettings(model: "tenant-model", systemPrompt: "You are terse."))
            try await harness.run { client in
                _ = try await client.postEvent(SlackRequests.mention(eventID: "EvT1", text: "<@UBOTT1> first question", ts: "100.1"))
                await harness.slack.waitForCalls("chat.postMessage", count: 1)
                _ = try await client.postEvent(SlackRequests.mention(
                    eventID: "EvT2", text: "<@UBOTT1|enablebot> second question", ts: "100.2", threadTS: "100.1"))
                let replies = await harness.slack.waitForCalls("chat.postMessage", count: 2)
                #expect(replies.count == 2)
                #expect(replies.last?.fields["thread_ts"] == "100.1")
            }
            let second = try #require(harness.llm.calls.last)
            #expect(second.model == "tenant-model")
            #expect(second.messages == [
                FakeLLM.Message(role: "system", content: "You are terse."),
                FakeLLM.Message(role: "user", content: "first question"),
                FakeLLM.Message(role: "assistant", content: "Echo: first question"),
                FakeLLM.Message(role: "user", content: "second question"),
            ])
        }
    }

    @Test("one event_id delivered three times gets one reply", arguments: TestDatabaseKind.allCases)
    func retries(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind) { harness in
            try await harness.run { client in
                let body = SlackRequests.mention(eventID: "EvDUP")
                #expect(try await client.postEvent(body).status == .ok)
                #expect(try await client.postEvent(body, retryNum: 1).status == .ok)
                #expect(try await client.postEvent(body, retryNum: 2).status == .ok)
                await harness.slack.waitForCalls("chat.postMessage")
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(harness.slack.calls("chat.postMessage").count == 1)
            #expect(harness.llm.calls.count == 1)
        }
    }

    @Test("a restart between acknowledgement and processing still gives exactly one reply", arguments: TestDatabaseKind.allCases)
    func restart(kind: TestDatabaseKind) async throws {
        // The model hangs until the process stops: a timeout on a loaded machine must not answer it first.
        try await withAPIHarness(kind, configure: { $0.llmTimeoutSeconds = 120 }) { harness in
            // First process: the model hangs, so the job is in flight when the process stops.
            harness.llm.script(.hang)
            try await harness.run { client in
                let response = try await client.postEvent(SlackRequests.mention(eventID: "EvRESTART"))
                #expect(response.status == .ok)
                await harness.llm.waitForCalls(count: 1)
            }
            #expect(harness.slack.calls("chat.postMessage").isEmpty)
            // Second process, acknowledged but never processed by the first one: only stored.
            try await harness.run(harness.dependencies { $0.runsWorker = false }) { client in
                let response = try await client.postEvent(SlackRequests.mention(eventID: "EvSTORED", ts: "200.1"))
                #expect(response.status == .ok)
            }
            #expect(harness.slack.calls("chat.postMessage").isEmpty)
            // Third process: both are done, once each; Slack's retries of them are not.
            try await harness.run { client in
                #expect(try await client.postEvent(SlackRequests.mention(eventID: "EvRESTART"), retryNum: 1).status == .ok)
                await harness.slack.waitForCalls("chat.postMessage", count: 2)
                try await Task.sleep(for: .milliseconds(300))
            }
            let replies = harness.slack.calls("chat.postMessage")
            if replies.count != 2 { print(harness.logs.all.filter { !$0.contains("\"level\":\"trace\"") }.joined()) }
            #expect(replies.count == 2)
            #expect(Set(replies.compactMap { $0.fields["thread_ts"] }) == ["1800000000.000100", "200.1"])
            #expect(try await harness.stores.jobs.count(status: .done) == 2)
        }
    }

    @Test("acknowledgements stay fast while the model takes a minute")
    func fastAcks() async throws {
        try await withAPIHarness(.sqlite, configure: { $0.llmTimeoutSeconds = 120 }) { harness in
            // Longer than the test on a loaded machine: no answer (or timeout apology) can go out while it runs.
            harness.llm.always(.delay(.seconds(60)))
            try await harness.run { client in
                var slowest = Duration.zero
                for i in 0..<20 {
                    let start = ContinuousClock.now
                    let response = try await client.postEvent(SlackRequests.mention(eventID: "EvFAST\(i)", ts: "300.\(i)"))
                    slowest = max(slowest, ContinuousClock.now - start)
                    #expect(response.status == .ok)
                }
                // Structural, not a timing target (the benchmark measures latency): an acknowledgement that waited for
                // the model would take its full minute, and no reply can have gone out before all 20 were acknowledged.
                #expect(slowest < .milliseconds(2500), "slowest acknowledgement: \(slowest)")
                #expect(harness.slack.calls("chat.postMessage").isEmpty)
                await harness.llm.waitForCalls(count: 4)
                #expect(harness.llm.maxInFlight <= 4)
            }
        }
    }

    @Test("bot messages, its own messages, edits, deletions, unknown and inactive teams: no model call", arguments: TestDatabaseKind.allCases)
    func ignored(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind, tenants: ["T1", "T2"]) { harness in
            try await harness.stores.installations.setStatus(tenantID: "T2", status: .inactive)
            let events: [(String, [UInt8])] = [
                ("bot", SlackRequests.envelope(eventID: "EvI1", team: "T1", event: [
                    "type": "app_mention", "user": "U9", "bot_id": "B9", "channel": "C1", "ts": "1.1", "text": "<@UBOTT1> hi"])),
                ("self", SlackRequests.envelope(eventID: "EvI2", team: "T1", event: [
                    "type": "message", "channel_type": "im", "user": "UBOTT1", "channel": "D1", "ts": "1.2", "text": "hi"])),
                ("edit", SlackRequests.envelope(eventID: "EvI3", team: "T1", event: [
                    "type": "message", "subtype": "message_changed", "channel_type": "im", "channel": "D1", "ts": "1.3",
                    "message": ["text": "edited", "user": "U1"]])),
                ("delete", SlackRequests.envelope(eventID: "EvI4", team: "T1", event: [
                    "type": "message", "subtype": "message_deleted", "channel_type": "im", "channel": "D1", "ts": "1.4"])),
                ("channel message", SlackRequests.envelope(eventID: "EvI5", team: "T1", event: [
                    "type": "message", "channel_type": "channel", "user": "U1", "channel": "C1", "ts": "1.5", "text": "hello"])),
                ("unknown team", SlackRequests.mention(eventID: "EvI6", team: "T404")),
                ("inactive team", SlackRequests.mention(eventID: "EvI7", team: "T2")),
            ]
            try await harness.run { client in
                for (name, body) in events {
                    #expect(try await client.postEvent(body).status == .ok, "\(name)")
                }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(harness.llm.calls.isEmpty)
            #expect(harness.slack.calls.isEmpty)
            #expect(try await harness.stores.jobs.count(status: .queued) == 0)
            #expect(try await harness.stores.jobs.count(status: .done) == 0)
        }
    }

    @Test("an org-wide install answers events from any team of its enterprise", arguments: TestDatabaseKind.allCases)
    func orgWide(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind, tenants: []) { harness in
            try await harness.stores.installations.save(
                Installation(tenantID: "E1", teamID: nil, enterpriseID: "E1", isEnterpriseInstall: true, botUserID: "UBOTE1",
                             installedAt: Date(), updatedAt: Date()),
                tokens: InstallationTokens(botToken: "xoxb-org-wide-token"))
            let body = Array(try JSONSerialization.data(withJSONObject: [
                "type": "event_callback", "team_id": "T77", "enterprise_id": "E1", "event_id": "EvORG",
                "event": ["type": "app_mention", "user": "U1", "channel": "C1", "ts": "900.1", "text": "<@UBOTE1> hi"],
                "authorizations": [["enterprise_id": "E1", "team_id": NSNull(), "user_id": "UBOTE1", "is_bot": true,
                                    "is_enterprise_install": true]],
            ] as [String: Any]))
            try await harness.run { client in
                let response = try await client.postEvent(body)
                #expect(response.status == .ok)
                await harness.slack.waitForCalls("chat.postMessage")
            }
            #expect(harness.slack.calls("chat.postMessage").first?.bearerToken == "xoxb-org-wide-token")
            #expect(try await harness.stores.usage.today(tenantID: "E1").events == 1)
        }
    }

    @Test("a direct message is answered in the DM")
    func directMessage() async throws {
        try await withAPIHarness(.sqlite) { harness in
            try await harness.run { client in
                _ = try await client.postEvent(SlackRequests.directMessage(eventID: "EvDM", text: "hello there"))
                await harness.slack.waitForCalls("chat.postMessage")
            }
            let reply = try #require(harness.slack.calls("chat.postMessage").first)
            #expect(reply.fields["channel"] == "D1")
            #expect(reply.fields["thread_ts"] == nil)
            #expect(reply.fields["text"] == "Echo: hello there")
        }
    }

    @Test("Slack 429 then success: one reply after waiting", arguments: TestDatabaseKind.allCases)
    func slackRateLimited(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind) { harness in
            harness.slack.script("chat.postMessage", .rateLimited(retryAfter: 1))
            try await harness.run { client in
                _ = try await client.postEvent(SlackRequests.mention(eventID: "Ev429"))
                await harness.slack.waitForCalls("chat.postMessage", count: 2)
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(harness.slack.calls("chat.postMessage").count == 2)
            #expect(harness.llm.calls.count == 1)
            #expect(try await harness.stores.jobs.count(status: .done) == 1)
        }
    }

    @Test("model 500 or a model timeout ends in an apology in the thread", arguments: ["500", "timeout"])
    func modelFailure(mode: String) async throws {
        try await withAPIHarness(.sqlite, configure: { $0.llmTimeoutSeconds = 1 }) { harness in
            harness.llm.always(mode == "500" ? .status(500) : .hang)
            try await harness.run { client in
                _ = try await client.postEvent(SlackRequests.mention(eventID: "EvFAIL"))
                await harness.slack.waitForCalls("chat.postMessage", timeout: .seconds(15))
            }
            let reply = try #require(harness.slack.calls("chat.postMessage").first)
            #expect(reply.fields["text"]?.hasPrefix("Sorry") == true)
            #expect(reply.fields["thread_ts"] == "1800000000.000100")
            #expect(harness.llm.calls.count == (mode == "500" ? 3 : 1))
            #expect(try await harness.stores.jobs.count(status: .done) == 1)
            harness.expectNoSecretsLogged()
        }
    }

    @Test("a Slack 5xx fails the job, which is retried and then replies once, without asking the model again",
          arguments: TestDatabaseKind.allCases)
    func jobRetry(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind) { harness in
            harness.slack.script("chat.postMessage", .status(503))
            try await harness.run { client in
                _ = try await client.postEvent(SlackRequests.mention(eventID: "EvRETRY"))
                await harness.slack.waitForCalls("chat.postMessage", count: 2)
                try await Task.sleep(for: .milliseconds(300))
            }
            let posts = harness.slack.calls("chat.postMessage")
            #expect(posts.count == 2)
            #expect(posts.map { $0.fields["text"] }.count { $0 == posts[0].fields["text"] } == 2, "the same reply both times")
            #expect(harness.llm.calls.count == 1)
            #expect(try await harness.stores.jobs.count(status: .done) == 1)
            // The question and the answer are remembered once, after the post that worked.
            #expect(try await harness.database.database.queryFirst("SELECT COUNT(*) AS n FROM chat_memory")?.int("n") == 2)
        }
    }

    @Test("a job failing every attempt is retried with backoff up to its bound, then marked dead")
    func deadJob() async throws {
        try await withAPIHarness(.sqlite) { harness in
            harness.slack.script("chat.postMessage", .status(503), .status(503), .status(503), .status(503), .status(503))
            try await harness.run { client in
                _ = try await client.postEvent(SlackRequests.mention(eventID: "EvDEAD"))
                await harness.slack.waitForCalls("chat.postMessage", count: 5)
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(harness.slack.calls("chat.postMessage").count == 5)
            let dead = try await harness.stores.jobs.dead()
            #expect(dead.count == 1)
            #expect(dead.first?.attempts == 5)
            #expect(dead.first?.lastError?.contains("http_503") == true)
        }
    }

    @Test("an empty or blank signing secret stops the service at start", arguments: ["", "  \n", "\t"])
    func blankSecret(secret: String) {
        #expect(throws: ConfigurationError.self) {
            _ = try Settings.load(service: .api, environment: ["SLACK_SIGNING_SECRET": secret, "ENABLEBOT_DATA_DIR": TestPaths.temporaryDirectory()])
        }
    }

    @Test("uninstall and token revocation, in either order: inactive, tokens deleted, audited, no more model calls",
          arguments: TestDatabaseKind.allCases, [true, false])
    func uninstall(kind: TestDatabaseKind, uninstallFirst: Bool) async throws {
        try await withAPIHarness(kind) { harness in
            let uninstall = SlackRequests.envelope(eventID: "EvUN", team: "T1", event: ["type": "app_uninstalled"])
            let revoke = SlackRequests.envelope(eventID: "EvRV", team: "T1", event: [
                "type": "tokens_revoked", "tokens": ["oauth": ["U1"], "bot": ["UBOTT1"]]])
            try await harness.run { client in
                for body in uninstallFirst ? [uninstall, revoke] : [revoke, uninstall] {
                    #expect(try await client.postEvent(body).status == .ok)
                }
                #expect(try await client.postEvent(SlackRequests.mention(eventID: "EvAFTER")).status == .ok)
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(harness.llm.calls.isEmpty)
            #expect(harness.slack.calls.isEmpty)
            let installation = try #require(try await harness.stores.installations.find(tenantID: "T1"))
            #expect(installation.status == .inactive)
            let row = try #require(try await harness.database.database.queryFirst(
                "SELECT bot_token_ciphertext, user_token_ciphertext, refresh_token_ciphertext FROM installations WHERE tenant_id = 'T1'"))
            #expect(row.optionalString("bot_token_ciphertext") == nil)
            #expect(row.optionalString("user_token_ciphertext") == nil)
            #expect(row.optionalString("refresh_token_ciphertext") == nil)
            let actions = try await harness.stores.auditLog.recent(tenantID: "T1").map(\.action)
            #expect(actions.contains("app_uninstalled"))
            #expect(actions.contains("tokens_revoked"))
            // The other tenant is untouched.
            #expect(try await harness.stores.installations.find(tenantID: "T2")?.status == .active)
        }
    }

    @Test("tokens_revoked naming only the installer's user token deletes that token and keeps the bot answering",
          arguments: TestDatabaseKind.allCases)
    func userTokenRevoked(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind) { harness in
            var installation = try #require(try await harness.stores.installations.find(tenantID: "T1"))
            installation.installerUserID = "UINSTALL"
            try await harness.stores.installations.save(
                installation, tokens: InstallationTokens(botToken: harness.tenant("T1").botToken, userToken: "xoxp-installer")
            )
            let revoke = SlackRequests.envelope(eventID: "EvUSR", team: "T1", event: [
                "type": "tokens_revoked", "tokens": ["oauth": ["UINSTALL"]]])
            try await harness.run { client in
                #expect(try await client.postEvent(revoke).status == .ok)
                #expect(try await client.postEvent(SlackRequests.mention(eventID: "EvSTILL")).status == .ok)
                await harness.slack.waitForCalls("chat.postMessage")
                try await Task.sleep(for: .milliseconds(100))
            }
            let tokens = try #require(try await harness.stores.installations.tokens(tenantID: "T1"))
            #expect(tokens.userToken == nil)
            #expect(tokens.botToken == harness.tenant("T1").botToken)
            #expect(try await harness.stores.installations.find(tenantID: "T1")?.status == .active)
            #expect(harness.slack.calls("chat.postMessage").count == 1)
            let details = try await harness.stores.auditLog.recent(tenantID: "T1").filter { $0.action == "tokens_revoked" }.map(\.detail)
            #expect(details == ["user token of UINSTALL deleted"])
        }
    }

    @Test("Slack answering invalid_auth marks the installation inactive and audits it", arguments: TestDatabaseKind.allCases)
    func invalidAuth(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind) { harness in
            harness.slack.script("chat.postMessage", .error("invalid_auth"))
            try await harness.run { client in
                _ = try await client.postEvent(SlackRequests.mention(eventID: "EvAUTH"))
                await harness.slack.waitForCalls("chat.postMessage")
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(try await harness.stores.installations.find(tenantID: "T1")?.status == .inactive)
            let actions = try await harness.stores.auditLog.recent(tenantID: "T1").map(\.action)
            #expect(actions.contains("slack_error"))
            #expect(harness.logs.all.contains { $0.contains("invalid_auth") })
            #expect(try await harness.stores.jobs.count(status: .done) == 1)
        }
    }

    @Test("/ask is acknowledged with an ephemeral Thinking… and answered in the channel", arguments: TestDatabaseKind.allCases)
    func slashCommand(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind) { harness in
            try await harness.run { client in
                let response = try await client.postCommand(SlackRequests.command(text: "what is GCRA?"))
                #expect(response.status == .ok)
                #expect(response.text.contains("\"response_type\":\"ephemeral\""))
                #expect(response.text.contains("Thinking"))
                await harness.slack.waitForCalls("chat.postMessage")
            }
            let reply = try #require(harness.slack.calls("chat.postMessage").first)
            #expect(reply.fields["channel"] == "C9")
            #expect(reply.fields["text"]?.contains("Echo: what is GCRA?") == true)
            #expect(reply.bearerToken == harness.tenant("T1").botToken)
        }
    }

    @Test("rotating tokens are refreshed once, even when many jobs need the token at once", arguments: TestDatabaseKind.allCases)
    func tokenRotation(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind) { harness in
            try await harness.stores.installations.updateTokens(
                tenantID: "T1", botToken: "xoxe.xoxb-old-rotating", refreshToken: "xoxe-1-refresh-old", expiresAt: Date().addingTimeInterval(60))
            harness.slack.script("oauth.v2.access", .ok(extraJSON:
                #""access_token":"xoxe.xoxb-new-rotating","refresh_token":"xoxe-1-refresh-new","expires_in":43200,"token_type":"bot""#))
            try await harness.run { client in
                for i in 0..<6 {
                    _ = try await client.postEvent(SlackRequests.mention(eventID: "EvROT\(i)", ts: "400.\(i)"))
                }
                await harness.slack.waitForCalls("chat.postMessage", count: 6)
            }
            let refreshes = harness.slack.calls("oauth.v2.access")
            #expect(refreshes.count == 1)
            #expect(refreshes.first?.fields["grant_type"] == "refresh_token")
            #expect(refreshes.first?.fields["refresh_token"] == "xoxe-1-refresh-old")
            #expect(refreshes.first?.fields["client_id"] == "111.222")
            #expect(harness.slack.calls("chat.postMessage").allSatisfy { $0.bearerToken == "xoxe.xoxb-new-rotating" })
            let tokens = try await harness.stores.installations.tokens(tenantID: "T1")
            #expect(tokens?.refreshToken == "xoxe-1-refresh-new")
            harness.expectNoSecretsLogged()
        }
    }
}
