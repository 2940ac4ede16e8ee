import EnableBotCore
import Foundation

/// How much of a thread the model sees: the latest turns, within a turn count and a character budget.
public struct PromptBudget: Sendable {
    public var maxTurns: Int
    public var maxHistoryCharacters: Int
    /// The new message itself is cut to this many characters.
    public var maxMessageCharacters: Int

    public init(maxTurns: Int = 20, maxHistoryCharacters: Int = 12_000, maxMessageCharacters: Int = 4_000) {
        self.maxTurns = maxTurns
        self.maxHistoryCharacters = maxHistoryCharacters
        self.maxMessageCharacters = maxMessageCharacters
    }
}

enum Prompt {
    static let defaultSystemPrompt = """
        You are EnableBot, a helpful assistant in a Slack workspace. Answer clearly and concisely, \
        using Markdown (**bold**, _italic_, `code`, code blocks, bullet lists, links) where it helps.
        """

    /// The message without mentions of the bot (`<@U123>` or `<@U123|name>`), with Slack's escapes undone (`&lt;` is
    /// what the person typed as `<`; the answer is escaped again on its way out), trimmed and cut to `limit` characters.
    static func question(from text: String, botUserID: String, limit: Int) -> String {
        var result = text
        if !botUserID.isEmpty {
            result = result.replacingOccurrences(of: "<@\(botUserID)>", with: "")
            while let start = result.range(of: "<@\(botUserID)|"), let end = result[start.upperBound...].firstIndex(of: ">") {
                result.removeSubrange(start.lowerBound...end)
            }
        }
        result = result.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
        result = result.trimmingCharacters(in: .whitespacesAndNewlines)
        return result.count > limit ? String(result.prefix(limit)) : result
    }

    static func messages(systemPrompt: String?, history: [ChatTurn], question: String) -> [LLMMessage] {
        let system = systemPrompt.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 }
        var messages = [LLMMessage(role: .system, content: system ?? defaultSystemPrompt)]
        for turn in history {
            messages.append(LLMMessage(role: turn.role == .assistant ? .assistant : .user, content: turn.content))
        }
        messages.append(LLMMessage(role: .user, content: question))
        return messages
    }

    /// The status Slack shows under an assistant thread while the answer is on its way.
    static let thinkingStatus = "is thinking…"

    /// An assistant thread's title: its first question, cut at a word to at most 60 characters.
    static func threadTitle(_ question: String) -> String {
        let line = question.split(whereSeparator: \.isNewline).first.map(String.init) ?? question
        guard line.count > 60 else { return line }
        let cut = line.prefix(59)
        let atWord = cut.lastIndex(of: " ").map { cut[..<$0] } ?? cut
        return String(atWord) + "…"
    }

    /// Told to the model in an assistant thread: the channel the person has open beside it (Slack's context).
    static func viewingChannel(_ channelID: String) -> String {
        "The person is asking from Slack's assistant pane while looking at the channel with ID \(channelID). You cannot read that channel; if the question is about it, say what you would need."
    }

    static let apology = "Sorry, I couldn't get an answer right now. Please try again in a moment."
    /// Appended to what was shown of an answer that broke off midway.
    static let brokeOff = "_(The answer broke off here, sorry. Please ask again.)_"
    static let emptyQuestion = "Hi! Ask me a question after the mention, e.g. `@EnableBot what is a sliding window?`"

    static func rateLimitNotice(retryAfter: TimeInterval) -> String {
        let seconds = max(1, Int(retryAfter.rounded(.up)))
        return "EnableBot is handling too many requests for this workspace right now. Please try again in about \(seconds) s."
    }

    /// Sent at most once a day per person while the workspace's monthly token budget is used up.
    static let budgetNotice =
        "EnableBot has used this workspace's AI budget for the month, so it can't answer until next month. A workspace admin can ask the operator for a higher budget."
}
