import Foundation

/// Slack's assistant-thread methods (`assistant.threads.*`, scope `assistant:write`): what an app shows in the
/// thread a user opened in its assistant container. Each is a JSON POST with the bot token; Slack's `ok:false`
/// and non-2xx answers throw `SlackAPIError` as every other call does (429 waits `Retry-After` first).
extension SlackWebClient {
    private struct ThreadStatus: Encodable {
        var channelID: String
        var threadTS: String
        var status: String

        enum CodingKeys: String, CodingKey {
            case channelID = "channel_id", threadTS = "thread_ts", status
        }
    }

    private struct ThreadTitle: Encodable {
        var channelID: String
        var threadTS: String
        var title: String

        enum CodingKeys: String, CodingKey {
            case channelID = "channel_id", threadTS = "thread_ts", title
        }
    }

    private struct ThreadSuggestedPrompts: Encodable {
        var channelID: String
        var threadTS: String
        var title: String?
        var prompts: [SuggestedPrompt]

        enum CodingKeys: String, CodingKey {
            case channelID = "channel_id", threadTS = "thread_ts", title, prompts
        }
    }

    /// `assistant.threads.setStatus`: the line Slack shows under the thread while the app works (e.g.
    /// "is thinking…"); an empty `status` clears it. Slack clears it itself when the app posts in the thread.
    public func assistantSetStatus(channel: String, threadTS: String, status: String, token: String) async throws {
        _ = try await callJSON(
            "assistant.threads.setStatus", body: ThreadStatus(channelID: channel, threadTS: threadTS, status: status),
            token: token, as: SlackOK.self
        )
    }

    /// `assistant.threads.setSuggestedPrompts`: the prompt buttons shown in the thread (Slack takes at most four;
    /// the caller keeps to `SuggestedPrompt.maxCount`), with an optional `title` above them.
    public func assistantSetSuggestedPrompts(
        channel: String, threadTS: String, title: String?, prompts: [SuggestedPrompt], token: String
    ) async throws {
        _ = try await callJSON(
            "assistant.threads.setSuggestedPrompts",
            body: ThreadSuggestedPrompts(channelID: channel, threadTS: threadTS, title: title, prompts: prompts),
            token: token, as: SlackOK.self
        )
    }

    /// `assistant.threads.setTitle`: the thread's name in the user's history of assistant threads.
    public func assistantSetTitle(channel: String, threadTS: String, title: String, token: String) async throws {
        _ = try await callJSON(
            "assistant.threads.setTitle", body: ThreadTitle(channelID: channel, threadTS: threadTS, title: title),
            token: token, as: SlackOK.self
        )
    }
}
