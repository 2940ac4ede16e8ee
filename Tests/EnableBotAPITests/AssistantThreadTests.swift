@testable import EnableBotAPI
import EnableBotCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOConcurrencyHelpers
import NIOCore
import Testing
import TestSupport

/// Slack's assistant threads over real HTTP: `assistant_thread_started` greets the thread and sets the workspace's
/// suggested prompts; `assistant_thread_context_changed` updates the stored context; retries add nothing.
@Suite("Assistant threads")
struct AssistantThreadTests {
    static func threadEvent(
        _ type: String = "assistant_thread_started", eventID: String, team: String = "T1", user: String = "U1",
        channel: String? = "D1", threadTS: String? = "1800000100.000100", context: [String: Any]? = ["channel_id": "C7", "team_id": "T1"]
    ) -> [UInt8] {
        var thread: [String: Any] = ["user_id": user]
        if let channel { thread["channel_id"] = channel }
        if let threadTS { thread["thread_ts"] = threadTS }
        if let context { thread["context"] = context }
        return SlackRequests.envelope(eventID: eventID, team: team, event: [
            "type": type, "assistant_thread": thread, "event_ts": "1800000100.000200",
        ])
    }

    /// Runs `body` with an API harness whose Slack Web API is a `RecordingSlack` (it keeps each call's whole JSON
    /// body: the prompts are an array, which `FakeSlack.Call.fields` leaves out).
    static func withAssistantHarness(
        _ kind: TestDatabaseKind, _ body: (APIHarness, RecordingSlack) async throws -> Void
    ) async throws {
        try await withStack { stack in
            let slack = RecordingSlack()
            let server = try await stack.server { router in slack.add(to: router) }
            let harness = try await stack.api(kind, configure: { $0.slackAPIBaseURL = server.baseURL + "/api" })
            try await body(harness, slack)
        }
    }

    @Test("a new thread gets one greeting in the thread and the default prompts; a retry adds nothing",
          arguments: TestDatabaseKind.allCases)
    func startedWithDefaults(kind: TestDatabaseKind) async throws {
        try await Self.withAssistantHarness(kind) { harness, slack in
            let t1 = harness.tenant("T1")
            try await harness.run { client in
                let body = Self.threadEvent(eventID: "EvA1")
                #expect(try await client.postEvent(body).status == .ok)
                let prompts = await slack.waitForCalls("assistant.threads.setSuggestedPrompts")
                #expect(prompts.count == 1)
                #expect(try await client.postEvent(body, retryNum: 1).status == .ok)
                try await Task.sleep(for: .milliseconds(400))
            }
            let greetings = slack.calls("chat.postMessage")
            #expect(greetings.count == 1)
            let greeting = try #require(greetings.first)
            #expect(greeting.bearerToken == t1.botToken)
            #expect(greeting.json["channel"] as? String == "D1")
            #expect(greeting.json["thread_ts"] as? String == "1800000100.000100")
            #expect(greeting.json["text"] as? String == AssistantThreadHandler.greeting)

            let calls = slack.calls("assistant.threads.setSuggestedPrompts")
            #expect(calls.count == 1)
            let call = try #require(calls.first)
            #expect(call.bearerToken == t1.botToken)
            #expect(call.json["channel_id"] as? String == "D1")
            #expect(call.json["thread_ts"] as? String == "1800000100.000100")
            #expect(call.prompts == SuggestedPrompt.defaults)
            // The greeting comes first.
            #expect(slack.calls.map(\.method) == ["chat.postMessage", "assistant.threads.setSuggestedPrompts"])

            let stored = try #require(try await harness.stores.assistantThreads.find(tenantID: "T1", channelID: "D1", threadTS: "1800000100.000100"))
            #expect(stored.userID == "U1")
            #expect(stored.context == AssistantThreadContext(channelID: "C7", teamID: "T1"))
            #expect(stored.greetedAt != nil)
            #expect(try await harness.stores.jobs.count(status: .done) == 1)
            harness.expectNoSecretsLogged()
        }
    }

    @Test("a workspace's own prompts are the ones set", arguments: TestDatabaseKind.allCases)
    func startedWithEditedPrompts(kind: TestDatabaseKind) async throws {
        try await Self.withAssistantHarness(kind) { harness, slack in
            let own = [
                SuggestedPrompt(title: "Release notes", message: "Summarize this week's release notes."),
                SuggestedPrompt(title: "On-call", message: "Who is on call, and how do I page them?"),
            ]
            try await harness.stores.installations.updateSettings(tenantID: "T2", settings: TenantSettings(suggestedPrompts: own))
            try await harness.run { client in
                let first = try await client.postEvent(Self.threadEvent(eventID: "EvB1", team: "T2", threadTS: "9.1"))
                let second = try await client.postEvent(Self.threadEvent(eventID: "EvB2", team: "T1", threadTS: "9.2"))
                #expect(first.status == .ok && second.status == .ok)
                await slack.waitForCalls("assistant.threads.setSuggestedPrompts", count: 2)
            }
            let calls = slack.calls("assistant.threads.setSuggestedPrompts")
            let forT2 = calls.first { $0.json["thread_ts"] as? String == "9.1" }
            let forT1 = calls.first { $0.json["thread_ts"] as? String == "9.2" }
            #expect(forT2?.prompts == own)
            #expect(forT2?.bearerToken == harness.tenant("T2").botToken)
            #expect(forT1?.prompts == SuggestedPrompt.defaults)
        }
    }

    @Test("a context change updates the stored context and posts nothing", arguments: TestDatabaseKind.allCases)
    func contextChanged(kind: TestDatabaseKind) async throws {
        try await Self.withAssistantHarness(kind) { harness, slack in
            try await harness.run { client in
                #expect(try await client.postEvent(Self.threadEvent(eventID: "EvC1")).status == .ok)
                await slack.waitForCalls("assistant.threads.setSuggestedPrompts")
                let changed = Self.threadEvent(
                    "assistant_thread_context_changed", eventID: "EvC2",
                    context: ["channel_id": "C8", "team_id": "T1", "enterprise_id": "E1"]
                )
                #expect(try await client.postEvent(changed).status == .ok)
                // A thread Slack started before EnableBot knew of it: stored from its first context change, not greeted.
                let unknown = Self.threadEvent("assistant_thread_context_changed", eventID: "EvC3", threadTS: "5.5", context: [:])
                #expect(try await client.postEvent(unknown).status == .ok)
                try await Self.waitUntil { try await harness.stores.jobs.count(status: .done) == 3 }
            }
            #expect(try await harness.stores.assistantThreads.context(tenantID: "T1", channelID: "D1", threadTS: "1800000100.000100")
                == AssistantThreadContext(channelID: "C8", teamID: "T1", enterpriseID: "E1"))
            let unknown = try #require(try await harness.stores.assistantThreads.find(tenantID: "T1", channelID: "D1", threadTS: "5.5"))
            #expect(unknown.context == AssistantThreadContext())
            #expect(unknown.greetedAt == nil)
            #expect(slack.calls("chat.postMessage").count == 1)
            #expect(slack.calls("assistant.threads.setSuggestedPrompts").count == 1)
        }
    }

    @Test("Slack's 5xx is retried without a second greeting; a refused prompts call is audited and ends the job",
          arguments: TestDatabaseKind.allCases)
    func slackFailures(kind: TestDatabaseKind) async throws {
        try await Self.withAssistantHarness(kind) { harness, slack in
            slack.answerNext("chat.postMessage", status: 503)
            slack.answerNext("assistant.threads.setSuggestedPrompts", status: 500)
            try await harness.run { client in
                #expect(try await client.postEvent(Self.threadEvent(eventID: "EvF1", threadTS: "7.1")).status == .ok)
                // First attempt: the greeting fails (503). Second: greeted, the prompts fail (500). Third: prompts only.
                await slack.waitForCalls("assistant.threads.setSuggestedPrompts", count: 2)
                try await Self.waitUntil { try await harness.stores.jobs.count(status: .done) == 1 }
            }
            #expect(slack.calls("chat.postMessage").count == 2)
            #expect(slack.succeeded("chat.postMessage") == 1)
            #expect(slack.calls("assistant.threads.setSuggestedPrompts").count == 2)

            slack.refuse("assistant.threads.setSuggestedPrompts", with: "invalid_arguments")
            try await harness.run { client in
                #expect(try await client.postEvent(Self.threadEvent(eventID: "EvF2", threadTS: "7.2")).status == .ok)
                try await Self.waitUntil { try await harness.stores.jobs.count(status: .done) == 2 }
            }
            #expect(slack.calls("chat.postMessage").filter { $0.json["thread_ts"] as? String == "7.2" }.count == 1)
            let audit = try await harness.stores.auditLog.recent(tenantID: "T1", action: "slack_error")
            #expect(audit.map(\.detail) == ["assistant.threads.setSuggestedPrompts: invalid_arguments"])
            #expect(try await harness.stores.installations.find(tenantID: "T1")?.status == .active)
            #expect(try await harness.stores.jobs.count(status: .dead) == 0)
        }
    }

    @Test("incomplete events and inactive workspaces are acknowledged and ignored", arguments: TestDatabaseKind.allCases)
    func ignored(kind: TestDatabaseKind) async throws {
        try await Self.withAssistantHarness(kind) { harness, slack in
            try await harness.stores.installations.setStatus(tenantID: "T2", status: .inactive)
            try await harness.run { client in
                #expect(try await client.postEvent(Self.threadEvent(eventID: "EvI1", threadTS: nil)).status == .ok)
                #expect(try await client.postEvent(Self.threadEvent(eventID: "EvI2", channel: nil)).status == .ok)
                #expect(try await client.postEvent(Self.threadEvent(eventID: "EvI3", team: "T2")).status == .ok)
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(slack.calls.isEmpty)
            #expect(try await harness.stores.jobs.count(status: .done) == 0)
            #expect(try await harness.stores.jobs.count(status: .queued) == 0)
            let outcomes = harness.logs.all.filter { $0.contains("/slack/events") }
            #expect(outcomes.filter { $0.contains("ignored:incomplete_event") }.count == 2)
            #expect(outcomes.filter { $0.contains("ignored:inactive_team") }.count == 1)
        }
    }

    @Test("the job payload round-trips through its stored form")
    func payload() throws {
        let job = AssistantThreadJob(
            eventID: "Ev1", tenantID: "T1", eventType: .contextChanged, userID: "U1", channelID: "D1", threadTS: "1.2",
            contextChannelID: "C1", contextTeamID: nil, contextEnterpriseID: "E\"1"
        )
        let stored = BotJob.assistantThread(job)
        #expect(stored.kind.rawValue == "slack.assistant_thread")
        #expect(try BotJob(kind: stored.kind.rawValue, payload: stored.payload) == stored)
    }

    static func waitUntil(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(25))
        }
    }
}

/// A Slack Web API on loopback that keeps each call's whole JSON body. Every method answers `{"ok":true}`
/// (`chat.postMessage` with a `ts`) unless a test queued a status or refused the method.
final class RecordingSlack: Sendable {
    struct Call: Sendable {
        var method: String
        var authorization: String?
        var body: String
        var status: Int

        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        }

        var bearerToken: String? {
            authorization.flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        }

        var prompts: [SuggestedPrompt]? {
            (json["prompts"] as? [[String: Any]])?.map {
                SuggestedPrompt(title: $0["title"] as? String ?? "", message: $0["message"] as? String ?? "")
            }
        }
    }

    private struct State {
        var calls: [Call] = []
        var statuses: [String: [Int]] = [:]
        var refusals: [String: String] = [:]
    }

    private let state = NIOLockedValueBox(State())

    func add(to router: Router<BasicRequestContext>) {
        router.post("/api/{method}") { [self] request, context -> Response in
            let method = context.parameters.get("method") ?? ""
            let body = try await request.body.collect(upTo: 1 << 20)
            let (status, refusal) = state.withLockedValue { state -> (Int, String?) in
                let status = state.statuses[method]?.isEmpty == false ? state.statuses[method]!.removeFirst() : 200
                state.calls.append(Call(
                    method: method, authorization: request.headers[.authorization], body: String(buffer: body), status: status
                ))
                return (status, state.refusals[method])
            }
            guard status == 200 else { return Response(status: .init(code: status)) }
            let json = if let refusal {
                #"{"ok":false,"error":"\#(refusal)"}"#
            } else if method == "chat.postMessage" {
                #"{"ok":true,"channel":"D1","ts":"1800000200.000100"}"#
            } else {
                #"{"ok":true}"#
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: json))
            )
        }
    }

    var calls: [Call] { state.withLockedValue { $0.calls } }

    func calls(_ method: String) -> [Call] { calls.filter { $0.method == method } }

    /// Calls of `method` that Slack answered with 200.
    func succeeded(_ method: String) -> Int { calls(method).filter { $0.status == 200 }.count }

    /// The next call of `method` gets this HTTP status (no body).
    func answerNext(_ method: String, status: Int) {
        state.withLockedValue { $0.statuses[method, default: []].append(status) }
    }

    /// `method` answers `ok:false` with `error` from now on.
    func refuse(_ method: String, with error: String) {
        state.withLockedValue { $0.refusals[method] = error }
    }

    @discardableResult
    func waitForCalls(_ method: String, count: Int = 1, timeout: Duration = .seconds(10)) async -> [Call] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found = calls(method)
            if found.count >= count { return found }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return calls(method)
    }
}
