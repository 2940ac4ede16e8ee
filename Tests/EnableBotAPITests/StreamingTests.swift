@testable import EnableBotAPI
import EnableBotCore
import Foundation
import Testing
import TestSupport

/// Answers shown while the model writes them (`LLM_STREAMING=true`, the default), over real HTTP: a fake model that
/// streams server-sent events, the fake Slack taking `chat.startStream`/`appendStream`/`stopStream`, or refusing
/// them and getting a posted message that is updated.
@Suite("Streaming answers")
struct StreamingTests {
    static func streaming(_ settings: inout Settings) { settings.llmStreaming = true }

    /// The text a streamed message ends with: its first words, every appended piece, its last words.
    static func streamedText(_ slack: FakeSlack, ts: String) -> String {
        let start = slack.calls("chat.startStream").first { _ in true }?.fields["markdown_text"] ?? ""
        let pieces = slack.calls.filter { ["chat.appendStream", "chat.stopStream"].contains($0.method) && $0.fields["ts"] == ts }
        return start + pieces.compactMap { $0.fields["markdown_text"] }.joined()
    }

    @Test("the first words reach Slack while the model still writes; the message ends whole, inert, remembered, counted",
          arguments: TestDatabaseKind.allCases)
    func streamsWhileTheModelWrites(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind, configure: Self.streaming) { harness in
            let pieces = ["Hello", " **world**:", " <!channel> and <@U999>", " see <http://x.example|label> & more.",
                          "\n\n> quoted", "\n- done"]
            harness.llm.script(.streamed(pieces, every: .milliseconds(300)))
            try await harness.run { client in
                #expect(try await client.postEvent(SlackRequests.mention(eventID: "EvS1", ts: "1800000000.000100")).status == .ok)
                let started = try #require(await harness.slack.waitForCalls("chat.startStream").first)
                // The model writes its six pieces over 1.8 s; the first is shown while it is still writing.
                let writingWhenShown = harness.llm.streamsWriting
                let stopped = await harness.slack.waitForCalls("chat.stopStream")
                #expect(writingWhenShown == 1, "the first words were shown only after the model had finished")
                #expect(stopped.count == 1)
                #expect(started.fields["channel"] == "C1")
                #expect(started.fields["thread_ts"] == "1800000000.000100")
                #expect(started.fields["recipient_user_id"] == "U1")
                #expect(started.fields["recipient_team_id"] == "T1")
                #expect(started.bearerToken == harness.tenant("T1").botToken)
                #expect(started.fields["markdown_text"]?.hasPrefix("Hello") == true)
                let ts = try #require(stopped.first?.fields["ts"])
                #expect(harness.slack.calls("chat.appendStream").allSatisfy { $0.fields["ts"] == ts })
                // Whatever the model wrote is shown, escaped: nothing pings, no link is disguised; Markdown stays.
                #expect(Self.streamedText(harness.slack, ts: ts) == """
                    Hello **world**: &lt;!channel&gt; and &lt;@U999&gt; see &lt;http://x.example|label&gt; &amp; more.

                    > quoted
                    - done
                    """)
                #expect(harness.slack.calls("chat.postMessage").isEmpty)
                #expect(harness.llm.calls.first?.stream == true)
                try await Task.sleep(for: .milliseconds(200))
            }
            let memory = try await harness.stores.chatMemory.recent(
                tenantID: "T1", channelID: "C1", threadTS: "1800000000.000100", maxTurns: 10, maxCharacters: 10_000)
            #expect(memory.map(\.content) == ["what is a sliding window?", pieces.joined()])
            let usage = try await harness.stores.usage.today(tenantID: "T1")
            #expect(usage.llmCalls == 1 && usage.promptTokens == 30 && usage.completionTokens == 10)
            harness.expectNoSecretsLogged()
        }
    }

    @Test("a stream cut midway: what was shown stays, a note says it broke off, nothing is remembered",
          arguments: TestDatabaseKind.allCases)
    func streamCutMidway(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind, configure: Self.streaming) { harness in
            // The first piece alone, the second with the cut: the stream is open when the body ends.
            harness.llm.script(.streamed(["Part one.", " Part two."], every: .milliseconds(400), cut: true))
            try await harness.run { client in
                _ = try await client.postEvent(SlackRequests.mention(eventID: "EvCut", ts: "1800000000.000200"))
                let stopped = try #require(await harness.slack.waitForCalls("chat.stopStream").first)
                let text = Self.streamedText(harness.slack, ts: stopped.fields["ts"] ?? "")
                #expect(text == "Part one. Part two.\n\n" + Prompt.brokeOff)
                #expect(harness.slack.calls("chat.startStream").count == 1)
                #expect(harness.slack.calls("chat.postMessage").isEmpty)
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(harness.llm.calls.count == 1, "a stream that broke off after its first words is not asked again")
            let memory = try await harness.stores.chatMemory.recent(
                tenantID: "T1", channelID: "C1", threadTS: "1800000000.000200", maxTurns: 10, maxCharacters: 10_000)
            #expect(memory.isEmpty)
        }
    }

    @Test("Slack refuses streaming: the answer is posted once, then updated in place until it is whole",
          arguments: TestDatabaseKind.allCases)
    func slackRefusesStreaming(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind, configure: Self.streaming) { harness in
            harness.slack.fail("chat.startStream", with: "unknown_method")
            harness.llm.script(.streamed(["First", " second", " third", " fourth **bold**"], every: .milliseconds(700)))
            try await harness.run { client in
                _ = try await client.postEvent(SlackRequests.mention(eventID: "EvRefuse", ts: "1800000000.000300"))
                let posted = try #require(await harness.slack.waitForCalls("chat.postMessage").first)
                #expect(posted.fields["thread_ts"] == "1800000000.000300")
                #expect(posted.fields["text"] == "First")
                // Posted at the first words (above), then updated in place (at most once a second) until whole.
                _ = await harness.slack.waitForCalls("chat.update")
                try await Task.sleep(for: .milliseconds(1_500))
                let all = harness.slack.calls("chat.update")
                #expect(!all.isEmpty && all.last?.fields["text"] == "First second third fourth *bold*")
                #expect(Set(all.compactMap { $0.fields["ts"] }).count == 1, "every update goes to the one posted message")
                #expect(harness.slack.calls("chat.postMessage").count == 1)
                #expect(harness.slack.calls("chat.startStream").count == 1)
            }
            let memory = try await harness.stores.chatMemory.recent(
                tenantID: "T1", channelID: "C1", threadTS: "1800000000.000300", maxTurns: 10, maxCharacters: 10_000)
            #expect(memory.last?.content == "First second third fourth **bold**")
        }
    }

    @Test("Slack's 429 on starting the stream waits Retry-After and tries again: one message, nothing lost or repeated")
    func streamRateLimited() async throws {
        try await withAPIHarness(.sqlite, configure: Self.streaming) { harness in
            harness.slack.script("chat.startStream", .rateLimited(retryAfter: 1))
            harness.llm.script(.streamed(["one", " two", " three", " four"], every: .milliseconds(600)))
            try await harness.run { client in
                _ = try await client.postEvent(SlackRequests.mention(eventID: "Ev429", ts: "1800000000.000500"))
                let stopped = try #require(await harness.slack.waitForCalls("chat.stopStream").first)
                // The refused start was sent again, the same words, after Retry-After (shortened by the harness).
                let starts = harness.slack.calls("chat.startStream")
                #expect(starts.count == 2 && starts[0].fields["markdown_text"] == starts[1].fields["markdown_text"])
                let pieces = (harness.slack.calls("chat.appendStream") + [stopped]).compactMap { $0.fields["markdown_text"] }
                #expect((starts.last?.fields["markdown_text"] ?? "") + pieces.joined() == "one two three four")
                #expect(harness.slack.calls("chat.stopStream").count == 1)
                #expect(harness.slack.calls("chat.postMessage").isEmpty)
            }
        }
    }

    @Test("a model that ignores stream:true still answers: its whole answer is posted at once, nothing streamed")
    func modelWithoutStreaming() async throws {
        try await withAPIHarness(.sqlite, configure: Self.streaming) { harness in
            harness.llm.streams(false)
            try await harness.run { client in
                _ = try await client.postEvent(SlackRequests.mention(eventID: "EvJSON", ts: "1800000000.000400"))
                let posted = try #require(await harness.slack.waitForCalls("chat.postMessage").first)
                #expect(posted.fields["text"] == "Echo: what is a sliding window?")
                #expect(posted.fields["thread_ts"] == "1800000000.000400")
                try await Task.sleep(for: .milliseconds(200))
                #expect(harness.slack.calls("chat.startStream").isEmpty)
            }
        }
    }

    @Test("a DM outside a thread cannot be streamed into: posted, then updated; a slash command is posted whole")
    func directMessageAndCommand() async throws {
        try await withAPIHarness(.sqlite, configure: Self.streaming) { harness in
            try await harness.run { client in
                _ = try await client.postEvent(SlackRequests.directMessage(eventID: "EvDM", text: "hi there"))
                let posted = try #require(await harness.slack.waitForCalls("chat.postMessage").first)
                #expect(posted.fields["channel"] == "D1")
                #expect(posted.fields["thread_ts"] == nil)
                _ = try await client.postCommand(SlackRequests.command(text: "what is up"))
                let both = await harness.slack.waitForCalls("chat.postMessage", count: 2)
                #expect(both.last?.fields["text"]?.hasPrefix("<@U1> asked: what is up") == true)
                try await Task.sleep(for: .milliseconds(300))
                #expect(harness.slack.calls("chat.startStream").isEmpty)
            }
        }
    }

    @Test("an assistant thread from start to answer: greeting, status at once, title from the first question, the streamed answer in the thread, the channel in view passed on",
          arguments: TestDatabaseKind.allCases)
    func assistantThread(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind, configure: Self.streaming) { harness in
            let thread = "1800000100.000100"
            @Sendable func message(_ eventID: String, ts: String, text: String) -> [UInt8] {
                SlackRequests.envelope(eventID: eventID, team: "T1", event: [
                    "type": "message", "channel_type": "im", "user": "U1", "channel": "D1", "ts": ts, "thread_ts": thread, "text": text,
                ])
            }
            try await harness.run { client in
                _ = try await client.postEvent(AssistantThreadTests.threadEvent(eventID: "EvStart", threadTS: thread))
                let greeting = try #require(await harness.slack.waitForCalls("chat.postMessage").first)
                #expect(greeting.fields["thread_ts"] == thread)
                harness.llm.script(.streamed(["To deploy,", " run the script."], every: .milliseconds(600)))
                _ = try await client.postEvent(message("EvQ1", ts: "1800000100.000300", text: "How do I deploy this thing?"))
                let status = try #require(await harness.slack.waitForCalls("assistant.threads.setStatus").first)
                #expect(status.fields["channel_id"] == "D1" && status.fields["thread_ts"] == thread)
                #expect(status.fields["status"] == Prompt.thinkingStatus)
                let stopped = try #require(await harness.slack.waitForCalls("chat.stopStream").first)
                let calls = harness.slack.calls.map(\.method)
                let statusAt = try #require(calls.firstIndex(of: "assistant.threads.setStatus"))
                let streamAt = try #require(calls.firstIndex(of: "chat.startStream"))
                #expect(statusAt < streamAt, "the status is shown before the answer starts")
                #expect(harness.slack.calls("chat.startStream").first?.fields["thread_ts"] == thread)
                #expect(Self.streamedText(harness.slack, ts: stopped.fields["ts"] ?? "") == "To deploy, run the script.")
                let title = harness.slack.calls("assistant.threads.setTitle")
                #expect(title.count == 1 && title.first?.fields["title"] == "How do I deploy this thing?")
                #expect(harness.llm.calls.last?.messages.first?.content.contains("channel with ID C7") == true)

                // The person switches channels; the next question carries the new one, and the thread's memory.
                _ = try await client.postEvent(AssistantThreadTests.threadEvent(
                    "assistant_thread_context_changed", eventID: "EvCtx", threadTS: thread, context: ["channel_id": "C8", "team_id": "T1"]))
                try await Task.sleep(for: .milliseconds(300))
                _ = try await client.postEvent(message("EvQ2", ts: "1800000100.000400", text: "And then?"))
                _ = await harness.llm.waitForCalls(count: 2)
                _ = await harness.slack.waitForCalls("assistant.threads.setStatus", count: 2)
                let second = try #require(harness.llm.calls.last)
                #expect(second.messages.first?.content.contains("channel with ID C8") == true)
                #expect(second.messages.dropFirst().map(\.content) == ["How do I deploy this thing?", "To deploy, run the script.", "And then?"])
                #expect(harness.slack.calls("assistant.threads.setStatus").count == 2)
                #expect(harness.slack.calls("assistant.threads.setTitle").count == 1, "titled once, after the first question")
            }
        }
    }

    @Test("an assistant thread's title is the first line of its first question, cut at a word")
    func threadTitle() {
        #expect(Prompt.threadTitle("short one") == "short one")
        #expect(Prompt.threadTitle("first line\nsecond") == "first line")
        let long = String(repeating: "word ", count: 20)
        #expect(Prompt.threadTitle(long).count <= 60 && Prompt.threadTitle(long).hasSuffix("word…"))
    }

    // MARK: Pieces

    @Test("server-sent events: data lines joined per event, comments and other fields skipped, any line ending")
    func serverSentEvents() {
        var parser = ServerSentEvents()
        #expect(parser.feed(Array(": keep-alive\n\ndata: {\"a\":1}\n\nda".utf8)) == ["{\"a\":1}"])
        #expect(parser.feed(Array("ta: x\r\nid: 7\r\ndata:y\r\n\r\ndata: [DONE]".utf8)) == ["x\ny"])
        #expect(parser.finish() == "[DONE]")
    }

    @Test("a streamed completion's events: content, finish reason, usage, an error; anything else is not an event")
    func completionChunks() {
        typealias Chunk = OpenAIChatClient.Chunk
        #expect(Chunk.read(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi \"you\""},"finish_reason":null}]}"#)
            == Chunk(content: "Hi \"you\""))
        #expect(Chunk.read(#"{"choices":[{"delta":{},"finish_reason":"stop"}]}"#) == Chunk(finished: true))
        #expect(Chunk.read(#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#)
            == Chunk(usage: LLMUsage(promptTokens: 12, completionTokens: 3)))
        #expect(Chunk.read(#"{"choices":[],"usage":{"prompt_tokens":-1,"completion_tokens":3}}"#) == Chunk())
        #expect(Chunk.read(#"{"error":{"message":"overloaded"}}"#) == Chunk(failed: true))
        #expect(Chunk.read(#"{"error":null,"choices":[{"delta":{"content":"x"}}]}"#) == Chunk(content: "x"))
        #expect(Chunk.read("not json") == nil)
        #expect(Chunk.read(#"{"choices":[{"delta":{"content":"x"}}]} trailing"#) == nil)
    }

    @Test("streamed Markdown is escaped piece by piece; a quote marker opening a line survives")
    func markdownEscaping() {
        var state = SlackText.LineStart.beginning
        #expect(SlackText.escapeMarkdown("> a <!here> & b > c\n", lineStart: &state) == "> a &lt;!here&gt; &amp; b &gt; c\n")
        #expect(SlackText.escapeMarkdown("  ", lineStart: &state) == "  ")
        #expect(SlackText.escapeMarkdown("> q", lineStart: &state) == "> q")
        #expect(SlackText.escapeMarkdown(" >", lineStart: &state) == " &gt;")
    }

    @Test("a streamed message takes text up to its limit, cut at a paragraph break")
    func streamedLimit() {
        let limit = LiveReply.streamedCharacterLimit
        #expect(LiveReply.fitting("short", after: 0) == ("short", false))
        let paragraph = String(repeating: "a", count: 100)
        let long = paragraph + "\n\n" + String(repeating: "b", count: limit)
        #expect(LiveReply.fitting(long, after: 0) == (paragraph, true))
        #expect(LiveReply.fitting(String(repeating: "c", count: 20), after: limit - 10) == ("", true))
    }
}
