import EnableBotAPI
import EnableBotCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import TestSupport

/// Both services over one database: what the operator saves on the dashboard is what the API service sends to the
/// model on the very next event, without a restart or a cache to wait out.
@Suite("Dashboard settings reach the API service")
struct SettingsReachAPITests {
    static let signingSecret = "cross-service-signing-secret"

    static func mention(eventID: String, team: String) -> (body: [UInt8], headers: HTTPFields) {
        let object: [String: Any] = [
            "team_id": team, "api_app_id": "A1", "type": "event_callback", "event_id": eventID, "event_time": 1_800_000_000,
            "event": ["type": "app_mention", "user": "U1", "channel": "C1", "ts": "1800000000.0001", "text": "<@UBOT> hello"],
        ]
        let body = Array(try! JSONSerialization.data(withJSONObject: object))
        let ts = String(Int(Date().timeIntervalSince1970))
        return (body, [
            .contentType: "application/json",
            HTTPField.Name("X-Slack-Request-Timestamp")!: ts,
            HTTPField.Name("X-Slack-Signature")!: SlackSignatureVerifier.sign(secret: signingSecret, timestamp: ts, body: body),
        ])
    }

    @Test("a settings change is visible in the next LLM request", arguments: TestDatabaseKind.allCases)
    func settingsChangeReachesModel(kind: TestDatabaseKind) async throws {
        try await withStack { stack in
            // One fake Slack for both services, as the real one is: the web install hands out the token the API uses.
            let web = try await stack.web(kind)
            let llm = try await stack.llm()

            let browser = web.browser()
            try await WebChecks.install(web, browser, DashboardTests.teamA)
            try await WebChecks.operatorLogin(browser)

            // The API service: its own application over the same database and keys, as a second process would have.
            var settings = web.settings
            settings.slackSigningSecret = Self.signingSecret
            settings.slackAPIBaseURL = web.slack.apiBaseURL
            settings.llmBaseURL = llm.baseURL
            settings.llmAPIKey = "sk-cross-service"
            settings.port = 0
            var dependencies = APIDependencies()
            dependencies.backends = Backends(database: web.database.database)
            dependencies.worker = JobWorkerConfiguration(
                concurrency: 2, lease: 30, pollInterval: .milliseconds(50), drainTimeout: .milliseconds(300), baseBackoff: 0.1
            )
            let app = try await buildAPIApplication(settings: settings, logger: TestLog.logger, dependencies: dependencies)

            try await app.test(.live) { client in
                for (round, (model, prompt)) in [("gpt-4o", "Answer in French."), ("gpt-4.1-mini", "Answer like a pirate.")].enumerated() {
                    let csrf = try await WebChecks.csrf(browser, page: "/dashboard/tenants/TA")
                    let saved = try await browser.post("/dashboard/tenants/TA/settings", [
                        ("csrf_token", csrf), ("model", model), ("system_prompt", prompt), ("rate_limit", "50/minute"),
                    ])
                    #expect(saved.status == 303)

                    let request = Self.mention(eventID: "EvCross\(round)", team: "TA")
                    try await client.execute(uri: "/slack/events", method: .post, headers: request.headers,
                                             body: ByteBuffer(bytes: request.body)) { #expect($0.status == .ok) }
                    let calls = await llm.waitForCalls(count: round + 1)
                    let call = try #require(calls.count == round + 1 ? calls.last : nil)
                    #expect(call.model == model)
                    #expect(call.messages.first?.role == "system")
                    #expect(call.messages.first?.content.contains(prompt) == true)
                }
            }
        }
    }
}
