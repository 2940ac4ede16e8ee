import EnableBotCore
import Foundation
import Testing
import TestSupport

/// A real `enablebot-api` process answering a slow fake model is killed with SIGKILL in the middle of a burst and
/// started again: every acknowledged event is answered exactly once, and the work it held resumes as soon as its
/// short leases run out (not after a minute).
@Suite("Crash resume", .timeLimit(.minutes(3)))
struct CrashResumeTests {
    static let secret = "crash-test-signing-secret"

    /// A database with workspace T1 installed (as the web service would have stored it), and the environment that
    /// runs `enablebot-api` on it against the fakes.
    static func deployment(
        _ kind: TestDatabaseKind, directory: String, slack: FakeSlack, llm: FakeLLM, extra: [String: String] = [:]
    ) async throws -> (environment: [String: String], port: Int) {
        let databaseURL = kind == .sqlite ? "sqlite:\(directory)/crash.sqlite" : try await PostgresTestServer.freshSchemaURL()
        let key = EncryptionKey.generate(id: "crash1")
        let database = try DatabaseFactory.open(url: databaseURL, poolSize: 2, logger: TestLog.logger)
        let stores = Stores(database: database, cipher: try TokenCipher(keys: [key]))
        try await Backends(database: database).prepare(keys: stores.keys, keyIDs: [key.id], logger: TestLog.logger)
        try await stores.installations.save(
            Installation(tenantID: "T1", teamID: "T1", enterpriseID: nil, teamName: "Team", botUserID: "UBOTT1",
                         installedAt: Date(), updatedAt: Date()),
            tokens: InstallationTokens(botToken: "xoxb-crash-test")
        )
        await database.shutdown()
        let port = try FreePort.next()
        let environment = [
            "ENABLEBOT_DATA_DIR": directory, "API_PORT": "\(port)", "DATABASE_URL": databaseURL,
            "ENCRYPTION_KEYS": "\(key.id):\(Data(key.bytes).base64EncodedString())", "SLACK_SIGNING_SECRET": Self.secret,
            "SLACK_API_BASE_URL": slack.apiBaseURL, "LLM_BASE_URL": llm.baseURL, "LLM_API_KEY": "sk-crash",
            "RATE_LIMIT_PER_TENANT": "100000/minute", "LOG_LEVEL": "warning",
        ].merging(extra) { $1 }
        return (environment, port)
    }

    /// Posts a signed mention to the process on `port`; returns the HTTP status.
    static func postMention(eventID: String, ts: String, port: Int, http: any HTTPClient) async throws -> Int {
        let body = SlackRequests.mention(eventID: eventID, ts: ts)
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let headers: [(name: String, value: String)] = [
            ("Content-Type", "application/json"), ("X-Slack-Request-Timestamp", timestamp),
            ("X-Slack-Signature", SlackSignatureVerifier.sign(secret: Self.secret, timestamp: timestamp, body: body)),
        ]
        return try await http.send(HTTPClientRequest(
            method: "POST", url: "http://127.0.0.1:\(port)/slack/events", headers: headers, body: body
        )).status
    }

    @Test("SIGKILL mid-burst, restart: every acknowledged event answered exactly once, resumed in seconds, not a minute",
          arguments: TestDatabaseKind.allCases)
    func killedMidBurst(kind: TestDatabaseKind) async throws {
        try await withStack { stack in
            let slack = try await stack.slack()
            let llm = try await stack.llm()
            // Slow enough that the kill lands while every job of the second wave is waiting for the model, never
            // between a post and its commit (that window is counted, not closed: `reply_reposts_uncertain_total`).
            llm.always(.delay(.seconds(6)))
            let http = stack.http()
            let directory = TestPaths.temporaryDirectory()
            let (environment, port) = try await Self.deployment(kind, directory: directory, slack: slack, llm: llm,
                                                                extra: ["LLM_STREAMING": "false"])
            func post(_ index: Int) async throws -> Int {
                try await Self.postMention(eventID: "EvCrash\(index)", ts: "1800000000.\(String(format: "%06d", index))", port: port, http: http)
            }

            let first = try ServiceProcess.start("enablebot-api", environment: environment, directory: directory)
            stack.onExit { first.kill() }
            _ = try await first.waitForHealth(port: port, http: http)
            // A first wave is answered before the crash; a second is in the model's hands when the process dies.
            for index in 0..<20 { #expect(try await post(index) == 200) }
            _ = await slack.waitForCalls("chat.postMessage", count: 20, timeout: .seconds(30))
            try await Task.sleep(for: .seconds(1))  // the first wave's finishing commits, after Slack's answers
            for index in 20..<60 { #expect(try await post(index) == 200) }
            _ = await llm.waitForCalls(count: 60, timeout: .seconds(10))
            first.signal(SIGKILL)
            _ = try await first.waitForExit(within: .seconds(10))
            let answeredBeforeCrash = slack.calls("chat.postMessage").count

            let restart = ContinuousClock.now
            let second = try ServiceProcess.start("enablebot-api", environment: environment, directory: directory)
            stack.onExit { second.kill() }
            _ = try await second.waitForHealth(port: port, http: http)
            // The work resumes when the killed process's leases run out: its jobs' model calls start again.
            let modelCalls = await llm.waitForCalls(count: 61, timeout: .seconds(60))
            let resumedWork = ContinuousClock.now - restart
            let replies = await slack.waitForCalls("chat.postMessage", count: 60, timeout: .seconds(90))
            let resumed = ContinuousClock.now - restart
            try await Task.sleep(for: .milliseconds(500))  // a late duplicate would show up now

            let threads = slack.calls("chat.postMessage").compactMap { $0.fields["thread_ts"] }
            #expect(replies.count >= 60, "answered \(replies.count) of 60; before the crash: \(answeredBeforeCrash)")
            #expect(threads.count == 60, "duplicates: \(threads.count - Set(threads).count)")
            #expect(Set(threads).count == 60)
            #expect(answeredBeforeCrash == 20)
            // The issue's target: work resumed within 20 s. The leases (15 s, renewed every 5 s) run out 10-15 s after
            // the kill; the answers follow one model call (6 s here) later.
            #expect(modelCalls.count > 60, "no model call after the restart")
            #expect(resumedWork < .seconds(20), "work resumed after \(resumedWork)")
            #expect(resumed < .seconds(45), "answered after \(resumed)")
            print("crash resume (\(kind)): work of the \(60 - answeredBeforeCrash) jobs held by the killed process resumed "
                + "\(resumedWork) after the restart (target 20 s), all answered after \(resumed) (a 6 s model)")
        }
    
    }

    @Test("SIGKILL while answers are being streamed: the restarted process finishes each streamed message, posts none anew",
          arguments: TestDatabaseKind.allCases)
    func killedMidStream(kind: TestDatabaseKind) async throws {
        try await withStack { stack in
            let slack = try await stack.slack()
            let llm = try await stack.llm()
            let count = 5
            // The first attempts stream a few words and then wait; the retries get the whole answer at once.
            for _ in 0..<count {
                llm.script(.streamed(["Partial", " answer"], every: .milliseconds(100), hangAfter: true))
            }
            let http = stack.http()
            let directory = TestPaths.temporaryDirectory()
            let (environment, port) = try await Self.deployment(kind, directory: directory, slack: slack, llm: llm)
            let first = try ServiceProcess.start("enablebot-api", environment: environment, directory: directory)
            stack.onExit { first.kill() }
            _ = try await first.waitForHealth(port: port, http: http)
            for index in 0..<count {
                let status = try await Self.postMention(
                    eventID: "EvStreamCrash\(index)", ts: "1800000001.\(String(format: "%06d", index))", port: port, http: http)
                #expect(status == 200)
            }
            let started = await slack.waitForCalls("chat.startStream", count: count, timeout: .seconds(20))
            try #require(started.count == count)
            try await Task.sleep(for: .milliseconds(700))  // the second words appended, the model still silent
            first.signal(SIGKILL)
            _ = try await first.waitForExit(within: .seconds(10))

            let restart = ContinuousClock.now
            let second = try ServiceProcess.start("enablebot-api", environment: environment, directory: directory)
            stack.onExit { second.kill() }
            _ = try await second.waitForHealth(port: port, http: http)
            let updates = await slack.waitForCalls("chat.update", count: count, timeout: .seconds(60))
            let resumed = ContinuousClock.now - restart
            try await Task.sleep(for: .milliseconds(500))

            // The ts Slack gave each stream, as its appended pieces name it.
            let streamTS = Set(slack.calls("chat.appendStream").compactMap { $0.fields["ts"] })
            #expect(streamTS.count == count)
            #expect(updates.count == count)
            #expect(Set(updates.compactMap { $0.fields["ts"] }) == streamTS, "each streamed message finished in place")
            #expect(updates.allSatisfy { $0.fields["text"] == "Echo: what is a sliding window?" })
            #expect(slack.calls("chat.startStream").count == count, "no second stream")
            #expect(slack.calls("chat.postMessage").isEmpty, "no second message")
            #expect(llm.calls.count == 2 * count)
            print("crash mid-stream (\(kind)): \(count) streamed answers finished in their own messages \(resumed) after the restart")
        }
    }
}
