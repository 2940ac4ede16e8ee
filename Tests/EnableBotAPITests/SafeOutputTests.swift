import EnableBotAPI
import EnableBotCore
import Foundation
import Testing
import TestSupport

/// The model's answer as it reaches Slack: escaped, as mrkdwn, in parts.
@Suite("Safe output")
struct SafeOutputTests {
    @Test("a hostile model answer reaches Slack inert, its Markdown as mrkdwn", arguments: TestDatabaseKind.allCases)
    func hostileAnswer(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind) { harness in
            harness.llm.always(.answer("""
                <!channel> <!here> <!everyone> <!subteam^S1|@team> <@U999> @channel
                See [the docs](https://example.com/a|b) or <http://evil.example|bank.com>, **really**.
                """))
            try await harness.run { client in
                let response = try await client.postEvent(SlackRequests.mention(eventID: "EvSafe1"))
                #expect(response.status == .ok)
                await harness.slack.waitForCalls("chat.postMessage")
            }
            let replies = harness.slack.calls("chat.postMessage")
            #expect(replies.count == 1)
            let reply = try #require(replies.first)
            #expect(reply.fields["text"] == """
                &lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;!subteam^S1|@team&gt; &lt;@U999&gt; @channel
                See <https://example.com/a%7Cb|the docs> or &lt;http://evil.example|bank.com&gt;, *really*.
                """)
            #expect(reply.fields["parse"] == "none")
            #expect(reply.fields["link_names"] == "0")
            #expect(reply.fields["thread_ts"] == "1800000000.000100")
            #expect(try await harness.stores.jobs.count(status: .done) == 1)
        }
    }

    @Test("a long answer is posted as consecutive replies in the same thread", arguments: TestDatabaseKind.allCases)
    func longAnswer(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind) { harness in
            let paragraphs = (1...12).map { "Part \($0): " + String(repeating: "lorem ipsum ", count: 50) }
            harness.llm.always(.answer(paragraphs.joined(separator: "\n\n")))
            try await harness.run { client in
                _ = try await client.postEvent(SlackRequests.mention(eventID: "EvLong1", threadTS: "1799999999.000001"))
                await harness.slack.waitForCalls("chat.postMessage", count: 3)
                try await Task.sleep(for: .milliseconds(200))
            }
            let replies = harness.slack.calls("chat.postMessage")
            #expect(replies.count == 3)
            #expect(replies.allSatisfy { $0.fields["thread_ts"] == "1799999999.000001" })
            #expect(replies.allSatisfy { ($0.fields["text"]?.utf16.count ?? .max) <= 3_500 })
            #expect(replies.compactMap { $0.fields["text"] }.joined(separator: "\n\n") == paragraphs.joined(separator: "\n\n"))
            #expect(try await harness.stores.jobs.count(status: .done) == 1)
        }
    }
}
