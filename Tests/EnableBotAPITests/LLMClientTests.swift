@testable import EnableBotAPI
import EnableBotCore
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport

@Suite("LLM clients")
struct LLMClientTests {
    static let request = LLMRequest(model: "m", messages: [
        LLMMessage(role: .system, content: "sys"), LLMMessage(role: .user, content: "hello"),
    ])

    @Test("OpenAI client: bearer key, model and messages sent; retries 5xx a bounded number of times")
    func retries() async throws {
        try await withStack { stack in
            let llm = try await stack.llm()
            let http = stack.http()
            let client = OpenAIChatClient(
                baseURL: llm.baseURL, apiKey: "sk-abc", timeout: .seconds(5), http: http, logger: TestLog.logger,
                maxRetries: 2, backoff: .milliseconds(1))
            llm.script(.status(500), .status(502))
            #expect(try await client.complete(Self.request).text == "Echo: hello")
            #expect(llm.calls.count == 3)
            #expect(llm.calls.allSatisfy { $0.authorization == "Bearer sk-abc" && $0.model == "m" })
            llm.script(.status(500), .status(500), .status(500))
            await #expect(throws: LLMError.unavailable("")) { try await client.complete(Self.request) }
            #expect(llm.calls.count == 6)
            llm.script(.status(401))
            await #expect(throws: LLMError.rejected("")) { try await client.complete(Self.request) }
            #expect(llm.calls.count == 7)
        }
    }

    @Test("OpenAI client: the answer's usage is reported when the server gives it, nil when it does not")
    func usage() async throws {
        try await withStack { stack in
            let llm = try await stack.llm()
            let client = OpenAIChatClient(
                baseURL: llm.baseURL, apiKey: "k", timeout: .seconds(5), http: stack.http(), logger: TestLog.logger)
            llm.reportUsage(prompt: 31, completion: 7)
            let answer = try await client.complete(Self.request)
            #expect(answer == LLMCompletion(text: "Echo: hello", usage: LLMUsage(promptTokens: 31, completionTokens: 7)))
            llm.reportUsage(nil)
            #expect(try await client.complete(Self.request) == LLMCompletion(text: "Echo: hello", usage: nil))
        }
    }

    @Test("OpenAI client: a connection failure is retried, then reported")
    func connectionRefused() async throws {
        try await withStack { stack in
            let http = stack.http()
            let client = OpenAIChatClient(
                baseURL: "http://127.0.0.1:9/v1", apiKey: "k", timeout: .seconds(2), http: http, logger: TestLog.logger,
                maxRetries: 1, backoff: .milliseconds(1))
            await #expect(throws: LLMError.unavailable("")) { try await client.complete(Self.request) }
        }
    }

    @Test("OpenAI client, streaming: pieces handed on as they come, usage from the last event; a cut stream is interrupted")
    func streaming() async throws {
        try await withStack { stack in
            let llm = try await stack.llm()
            let client = OpenAIChatClient(
                baseURL: llm.baseURL, apiKey: "k", timeout: .seconds(5), http: stack.http(), logger: TestLog.logger,
                maxRetries: 1, backoff: .milliseconds(1))
            llm.reportUsage(prompt: 12, completion: 3)
            llm.script(.streamed(["Hel", "lo", " there"], every: .milliseconds(50)))
            let pieces = Mutex<[String]>([])
            let answer = try await client.stream(Self.request) { piece in pieces.withLock { $0.append(piece) } }
            #expect(answer == LLMCompletion(text: "Hello there", usage: LLMUsage(promptTokens: 12, completionTokens: 3)))
            // Handed on as they came, apart from words that arrive with the end (the last one may).
            let handed = pieces.withLock { $0 }
            #expect(Array(handed.prefix(2)) == ["Hel", "lo"])
            #expect(answer.text.hasPrefix(handed.joined()))
            #expect(llm.calls.last?.stream == true)

            // Broken off after its first words: not retried (they were shown), reported as interrupted.
            llm.script(.streamed(["Part"], every: .milliseconds(10), cut: true))
            await #expect(throws: LLMError.interrupted("")) { try await client.stream(Self.request) { _ in } }
            #expect(llm.calls.count == 2)
            // Broken off before any word: retried like a 5xx.
            llm.script(.streamed([], every: .milliseconds(10), cut: true))
            #expect(try await client.stream(Self.request) { _ in }.text == "Echo: hello")
            #expect(llm.calls.count == 4)
            // A 5xx before the stream: retried, then the stream.
            llm.script(.status(503))
            #expect(try await client.stream(Self.request) { _ in }.text == "Echo: hello")
        }
    }

    @Test("the offline model is deterministic and mentions earlier turns")
    func offline() async throws {
        let model = OfflineModel()
        let first = try await model.complete(Self.request)
        #expect(first == (try await model.complete(Self.request)))
        #expect(first.text.contains("hello"))
        let longer = LLMRequest(model: "m", messages: [
            LLMMessage(role: .system, content: "s"), LLMMessage(role: .user, content: "a"),
            LLMMessage(role: .assistant, content: "b"), LLMMessage(role: .user, content: "c"),
        ])
        #expect(try await model.complete(longer).text.contains("2 earlier messages"))
    }

    @Test("the request body is the JSON JSONEncoder would write; a whole completion is read as JSONDecoder would")
    func wholeCompletionJSON() throws {
        let request = LLMRequest(model: "m\"1", messages: [
            LLMMessage(role: .system, content: "be \\ kind\n"), LLMMessage(role: .user, content: "é 🚀 \u{1} </script> \"q\""),
        ])
        for streaming in [false, true] {
            let written = try #require(JSONSerialization.jsonObject(with: Data(OpenAIChatClient.body(request, streaming: streaming))) as? NSDictionary)
            var expected: [String: Any] = [
                "model": "m\"1",
                "messages": request.messages.map { ["role": $0.role.rawValue, "content": $0.content] },
            ]
            if streaming {
                expected["stream"] = true
                expected["stream_options"] = ["include_usage": true]
            }
            #expect(written == expected as NSDictionary)
        }
        let whole = OpenAIChatClient.decodeWhole
        let answer = try whole(Array(#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"Hi \u00e9 \ud83d\ude80"}},{"message":{"content":"second"}}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#.utf8))
        #expect(answer == LLMCompletion(text: "Hi é 🚀", usage: LLMUsage(promptTokens: 3, completionTokens: 4)))
        #expect(try whole(Array(#"{"choices":[{"message":{"content":"ok"}}],"usage":{"prompt_tokens":-1}}"#.utf8)).usage == nil)
        for broken in [#"{"choices":[]}"#, #"{"choices":[{"message":{"content":"   "}}]}"#, #"{"choices":{}}"#, #"{"usage":{}}"#,
                       #"{"choices":[{"message":{"content":"ok"}}]"#, "not json", #"{"choices":[{"message":{"content":null}}]}"#] {
            #expect(throws: LLMError.self, "\(broken)") { try whole(Array(broken.utf8)) }
        }
        #expect(throws: LLMError.self) { try whole([0x7B, 0xFF, 0x7D]) }
    }

    @Test("mentions of the bot are stripped, others kept; the message is cut to its budget")
    func question() {
        #expect(Prompt.question(from: "<@UBOT> hi <@U2>", botUserID: "UBOT", limit: 100) == "hi <@U2>")
        #expect(Prompt.question(from: "<@UBOT|enablebot>   what?  ", botUserID: "UBOT", limit: 100) == "what?")
        #expect(Prompt.question(from: "<@UBOT> " + String(repeating: "x", count: 50), botUserID: "UBOT", limit: 10).count == 10)
        // Slack escapes what people type; the model sees what they typed.
        #expect(Prompt.question(from: "<@UBOT> is a &lt; b &amp;&amp; b &gt; c?", botUserID: "UBOT", limit: 100) == "is a < b && b > c?")
        let cases: [(String, String)] = [
            ("<@UBOT|a> one <@UBOT|b> two <@UBOT>", "one  two"),
            ("<@UBOTX> is someone else; <@UBOT|never closed", "<@UBOTX> is someone else; <@UBOT|never closed"),
            ("&amp;lt; stays an escape once; &lt;@UBOT&gt; was typed, not a mention", "&lt; stays an escape once; <@UBOT> was typed, not a mention"),
            ("é 🚀 &lt;b&gt; &unknown; & &am", "é 🚀 <b> &unknown; & &am"),
            ("  \n<@UBOT>\t", ""),
        ]
        for (text, question) in cases {
            #expect(Prompt.question(from: text, botUserID: "UBOT", limit: 100) == question, "\(text)")
        }
        #expect(Prompt.question(from: "<@> &lt;", botUserID: "", limit: 100) == "<@> <")
        #expect(Prompt.messages(systemPrompt: "  ", history: [], question: "q").first?.content == Prompt.defaultSystemPrompt)
    }
}
