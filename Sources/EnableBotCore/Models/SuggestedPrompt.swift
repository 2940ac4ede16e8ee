import Foundation

/// One of the prompts Slack shows under a new assistant thread (`assistant.threads.setSuggestedPrompts`): the
/// `title` is the button's label, the `message` what is sent when it is clicked.
public struct SuggestedPrompt: Sendable, Equatable, Codable {
    public var title: String
    public var message: String

    public init(title: String, message: String) {
        self.title = title
        self.message = message
    }

    /// Slack shows at most four.
    public static let maxCount = 4
    public static let maxTitleLength = 50
    public static let maxMessageLength = 500

    /// What a workspace that set none gets.
    public static let defaults: [SuggestedPrompt] = [
        SuggestedPrompt(title: "Summarize a topic", message: "Summarize the key points of a topic I'll describe next."),
        SuggestedPrompt(title: "Draft a message", message: "Help me draft a clear, friendly message to my team."),
        SuggestedPrompt(title: "Explain something", message: "Explain a concept to me in simple terms, with an example."),
    ]

    /// The `installations.suggested_prompts` column: a JSON array of `{"title","message"}`.
    public static func encodeList(_ prompts: [SuggestedPrompt]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(prompts)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    /// Reads the column back; nil (the defaults) when it is not such an array, so a damaged value never stops the
    /// installation from loading.
    public static func decodeList(_ json: String) -> [SuggestedPrompt]? {
        try? JSONDecoder().decode([SuggestedPrompt].self, from: Data(json.utf8))
    }
}
