import EnableBotCore
import Foundation
import Testing
import TestSupport

/// The Web API client over real HTTP against FakeSlack: what it makes of Slack's answers.
@Suite struct SlackWebClientTests {
    @Test("Slack's answers: ok, a posted message's ts, errors, and bodies that are not Slack's (invalid_response)")
    func webClientAnswers() async throws {
        try await withStack { stack in
            let slack = try await stack.slack()
            let client = SlackWebClient(baseURL: slack.apiBaseURL, http: stack.http(), logger: TestLog.logger)
            let posted = try await client.postMessage(channel: "C1", text: "hi", threadTS: nil, token: "xoxb-1")
            #expect(posted.channel == "C1" && posted.ts?.isEmpty == false)
            // The body written by hand reads as JSONEncoder's did.
            let text = "é 🚀 \"q\" \\ </x> \u{1}\n&lt;!channel&gt;"
            try await client.postMessage(channel: "C2", text: text, threadTS: "9.9", token: "xoxb-1")
            let sent = try #require(slack.calls("chat.postMessage").last)
            #expect(sent.fields == ["channel": "C2", "text": text, "thread_ts": "9.9", "parse": "none", "link_names": "0"])
            #expect(sent.contentType == "application/json; charset=utf-8" && sent.bearerToken == "xoxb-1")
            slack.script("chat.postMessage", .raw(#"{"ok":true,"channel":{"id":"C1"},"ts":7,"warning":"x"}"#))
            let odd = try await client.postMessage(channel: "C1", text: "hi", threadTS: nil, token: "xoxb-1")
            #expect(odd.channel == nil && odd.ts == nil)
            for (body, code) in [(#"{"ok":false,"error":"channel_not_found"}"#, "channel_not_found"), (#"{"ok":false}"#, "unknown_error"),
                                 (#"{"ok":"true"}"#, "invalid_response"), (#"{"ok":false,"error":5}"#, "invalid_response"),
                                 (#"{"error":"x"}"#, "invalid_response"), ("not json", "invalid_response"),
                                 (#"{"ok":true} trailing"#, "invalid_response")] {
                slack.script("chat.update", .raw(body))
                await #expect("\(body)") { try await client.updateMessage(channel: "C1", ts: "1.1", text: "t", token: "xoxb-1") } throws: {
                    ($0 as? SlackAPIError)?.code == code
                }
            }
        }
    }
}
