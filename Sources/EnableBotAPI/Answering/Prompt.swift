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
        // One pass over the bytes (Foundation's `replacingOccurrences`, four times, was a twentieth of an answer's
        // CPU): the bot's own mentions (`<@UBOT>`, `<@UBOT|name>`) go, Slack's three escapes are undone.
        let mention = Array("<@\(botUserID)".utf8)
        var output: [UInt8] = []
        var input = text
        input.withUTF8 { bytes in
            output.reserveCapacity(bytes.count)
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "<"), !botUserID.isEmpty, let end = Self.mentionEnd(bytes, at: index, mention: mention) {
                    index = end
                    continue
                }
                if byte == UInt8(ascii: "&"), let (decoded, length) = Self.entity(bytes, at: index) {
                    output.append(decoded)
                    index += length
                    continue
                }
                output.append(byte)
                index += 1
            }
        }
        let result = String(decoding: output, as: UTF8.self).trimmingWhitespace
        return result.count > limit ? String(result.prefix(limit)) : result
    }

    /// Where the bot's mention starting at `index` ends (just past its `>`), or nil when there is none there.
    private static func mentionEnd(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int, mention: [UInt8]) -> Int? {
        let after = index + mention.count
        guard after < bytes.count, bytes[index..<after].elementsEqual(mention) else { return nil }
        if bytes[after] == UInt8(ascii: ">") { return after + 1 }
        guard bytes[after] == UInt8(ascii: "|"), let close = bytes[after...].firstIndex(of: UInt8(ascii: ">")) else { return nil }
        return close + 1
    }

    /// `&lt;`, `&gt;` and `&amp;` (the only escapes Slack writes) at `index`: the byte meant and the escape's length.
    private static func entity(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (UInt8, Int)? {
        for (name, byte) in [("&lt;", UInt8(ascii: "<")), ("&gt;", UInt8(ascii: ">")), ("&amp;", UInt8(ascii: "&"))] {
            let escape = name.utf8
            if index + escape.count <= bytes.count, bytes[index..<(index + escape.count)].elementsEqual(escape) { return (byte, escape.count) }
        }
        return nil
    }

    static func messages(systemPrompt: String?, history: [ChatTurn], question: String) -> [LLMMessage] {
        let system = systemPrompt.flatMap { $0.isBlank ? nil : $0 }
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
