@testable import EnableBotAPI
import EnableBotCore
import Foundation
import Testing
import TestSupport

/// Slack's envelope carries the app's legacy verification `token`; none of it may be stored.
@Suite("Legacy verification token")
struct VerificationTokenTests {
    static let legacyToken = "legacy-verification-token"

    /// Every text value of every row of every table that holds `needle`, as "table: value".
    static func rowsContaining(_ needle: String, in test: TestDatabase) async throws -> [String] {
        let tables = try await test.database.query(
            test.kind == .sqlite
                ? "SELECT name AS table_name FROM sqlite_master WHERE type = 'table'"
                : "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).map { try $0.string("table_name") }
        #expect(tables.contains("jobs") && tables.contains("processed_events"))
        var found: [String] = []
        for table in tables {
            for row in try await test.database.query("SELECT * FROM \(table)") {
                for case .text(let text) in row.values where text.contains(needle) { found.append("\(table): \(text)") }
            }
        }
        return found
    }

    @Test("an acknowledged event leaves no trace of Slack's verification token in any table", arguments: TestDatabaseKind.allCases)
    func notStored(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind) { harness in
            let body = SlackRequests.mention(eventID: "EvTOKEN", ts: "500.1")
            #expect(String(decoding: body, as: UTF8.self).contains(Self.legacyToken))
            // Acknowledged and stored only: the job as the ack path wrote it.
            try await harness.run(harness.dependencies { $0.runsWorker = false }) { client in
                let response = try await client.postEvent(body)
                #expect(response.status == .ok)
            }
            #expect(try await harness.stores.processedEvents.contains("EvTOKEN"))
            #expect(try await harness.stores.jobs.count(status: .queued) == 1)
            #expect(try await Self.rowsContaining(Self.legacyToken, in: harness.database) == [])
            let job = try #require(try await harness.database.database.queryFirst("SELECT kind, payload FROM jobs"))
            #expect(try job.string("kind") == BotJob.Kind.answer.rawValue)
            #expect(try JobPayload.decode(AnswerJob.self, try job.string("payload")) == AnswerJob(
                eventID: "EvTOKEN", tenantID: "T1", userID: "U1", channelID: "C1", text: "<@UBOTT1> what is a sliding window?",
                replyThreadTS: "500.1", memoryThreadTS: "500.1", command: nil, opensThread: true))
            // Then answered from that job alone.
            try await harness.run { _ in
                let replies = await harness.slack.waitForCalls("chat.postMessage")
                #expect(replies.first?.fields["thread_ts"] == "500.1")
            }
            #expect(try await Self.rowsContaining(Self.legacyToken, in: harness.database) == [])
        }
    }

    @Test("a slack.event job queued by an earlier version is upgraded at start, answered once, stripped of the token",
          arguments: TestDatabaseKind.allCases)
    func legacyJob(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind) { harness in
            let envelope = String(decoding: SlackRequests.mention(eventID: "EvOLD", ts: "600.1"), as: UTF8.self)
            // As the ack path of an earlier version stored them: kind "slack.event", Slack's envelope as the payload.
            _ = try await harness.stores.processedEvents.claimAndEnqueue(
                eventID: "EvOLD", tenantID: "T1", kind: "slack.event", payload: envelope)
            let broken = try await harness.stores.processedEvents.claimAndEnqueue(
                eventID: "EvBROKEN", tenantID: "T1", kind: "slack.event",
                payload: #"{"token":"legacy-verification-token","type":"event_callback"}"#)
            try await harness.run { _ in
                let replies = await harness.slack.waitForCalls("chat.postMessage")
                #expect(replies.count == 1)
                #expect(replies.first?.fields["thread_ts"] == "600.1")
                #expect(replies.first?.fields["text"] == "Echo: what is a sliding window?")
                await harness.waitForJobs(status: .done, count: 1)
            }
            #expect(try await harness.stores.jobs.count(status: .done) == 1)
            #expect(try await harness.stores.jobs.count(status: .dead) == 1)
            #expect(try await Self.rowsContaining(Self.legacyToken, in: harness.database) == [])
            let kinds = try await harness.database.database.query("SELECT id, kind FROM jobs ORDER BY id")
                .map { (try $0.int("id"), try $0.string("kind")) }
            #expect(kinds.map(\.1) == ["slack.answer", "slack.event"])
            #expect(kinds.last?.0 == broken.map(Int.init))
        }
    }

    @Test("the hand-written AnswerJob JSON reads back as the same job (and as a BotJob), whatever the text holds")
    func answerJobJSON() throws {
        let texts = [
            "", "plain", "quote \" backslash \\ slash /", "lines\n\r\t end", "\u{0}\u{1}\u{8}\u{c}\u{1f}\u{7f}",
            "emoji 🧵 and é, 漢字", "\u{2028}\u{2029}", "<@U1> `code` {\"json\": [1]}",
        ]
        for (index, text) in texts.enumerated() {
            let job = AnswerJob(eventID: "Ev\(text)", tenantID: "T1", userID: "U1", channelID: "C1", text: text,
                                replyThreadTS: text.isEmpty ? nil : "1.2", memoryThreadTS: "im", command: text.isEmpty ? nil : "/ask",
                                opensThread: [nil, true, false][index % 3])
            #expect(try JobPayload.decode(AnswerJob.self, job.jsonPayload) == job)
            #expect(try BotJob(kind: BotJob.Kind.answer.rawValue, payload: job.jsonPayload) == .answer(job))
            #expect(try JobPayload.decode(BotJob.self, job.jsonPayload) == .answer(job))
            #expect(try JSONSerialization.jsonObject(with: Data(job.jsonPayload.utf8)) is [String: Any])
        }
        // As strict as JSONDecoder about what the worker needs: each required member there, as text.
        let complete = #"{"event_id":"E","tenant_id":"T","user_id":"U","channel_id":"C","text":"t""#
        #expect(try AnswerJob(jsonPayload: complete + #","command":null,"extra":[1,{"a":2}]}"#).command == nil)
        for broken in [#"{"event_id":"E","tenant_id":"T","user_id":"U","channel_id":"C"}"#, complete + #","text":5}"#,
                       #"{"event_id":"E","tenant_id":"T","user_id":"U","channel_id":"C","text":7}"#, complete + "}x", "[]",
                       complete + #","opens_thread":"yes"}"#] {
            #expect(throws: (any Error).self, "\(broken)") { try AnswerJob(jsonPayload: broken) }
            #expect(throws: (any Error).self, "\(broken)") { try BotJob(kind: BotJob.Kind.answer.rawValue, payload: broken) }
        }
        let lifecycle = BotJob.lifecycle(LifecycleJob(eventID: "Ev1", tenantID: "T1", eventType: "app_uninstalled", detail: "gone"))
        #expect(try BotJob(kind: lifecycle.kind.rawValue, payload: lifecycle.payload) == lifecycle)
        #expect(throws: (any Error).self) { try BotJob(kind: "slack.mystery", payload: "{}") }
    }
}

extension APIHarness {
    /// Waits (up to 10 s) until `count` jobs have `status`.
    func waitForJobs(status: Job.Status, count: Int) async {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? await stores.jobs.count(status: status)) ?? 0 >= count { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
