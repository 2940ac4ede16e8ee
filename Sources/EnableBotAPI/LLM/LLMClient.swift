import EnableBotCore
import Foundation

/// One message of a chat-completions conversation.
public struct LLMMessage: Codable, Sendable, Equatable {
    public enum Role: String, Codable, Sendable {
        case system
        case user
        case assistant
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
}

/// What the model is asked: which model, and the conversation so far (system prompt first, new message last).
public struct LLMRequest: Sendable, Equatable {
    public var model: String
    public var messages: [LLMMessage]

    public init(model: String, messages: [LLMMessage]) {
        self.model = model
        self.messages = messages
    }
}

/// Why the model gave no answer. The description never carries the API key or the prompt.
public struct LLMError: Error, CustomStringConvertible, Equatable, Sendable {
    private enum Kind: Sendable, Equatable {
        case timedOut, unavailable, rejected, invalidResponse, interrupted
    }

    private let kind: Kind
    public let detail: String

    private init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// No answer within `LLM_TIMEOUT_SECONDS`.
    public static func timedOut(_ detail: String = "") -> LLMError { LLMError(.timedOut, detail) }
    /// 5xx, 429 or connection failures, after the retries.
    public static func unavailable(_ detail: String) -> LLMError { LLMError(.unavailable, detail) }
    /// A 4xx other than 429: retrying will not help (bad key, unknown model).
    public static func rejected(_ detail: String) -> LLMError { LLMError(.rejected, detail) }
    /// 2xx without a usable answer.
    public static func invalidResponse(_ detail: String) -> LLMError { LLMError(.invalidResponse, detail) }

    /// A streamed answer broke off after some of it was handed on: not retried (that part is already shown).
    public static func interrupted(_ detail: String) -> LLMError { LLMError(.interrupted, detail) }

    public var description: String { "LLM \(kind): \(detail)" }

    public static func == (lhs: LLMError, rhs: LLMError) -> Bool { lhs.kind == rhs.kind }
}

/// The tokens one completion cost, as the server reports them (`usage.prompt_tokens`, `usage.completion_tokens`).
public struct LLMUsage: Sendable, Equatable {
    public var promptTokens: Int64
    public var completionTokens: Int64

    public init(promptTokens: Int64, completionTokens: Int64) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    public var totalTokens: Int64 { promptTokens + completionTokens }
}

/// The model's answer and what it cost (nil when the server did not say).
public struct LLMCompletion: Sendable, Equatable {
    public var text: String
    public var usage: LLMUsage?

    public init(text: String, usage: LLMUsage? = nil) {
        self.text = text
        self.usage = usage
    }
}

/// A chat-completions model: answers a conversation with text.
public protocol LLMClient: Sendable {
    /// The model's answer. Throws `LLMError` when there is none, `CancellationError` when the task was cancelled.
    func complete(_ request: LLMRequest) async throws -> LLMCompletion

    /// The model's answer, handed to `onText` piece by piece as the model writes it. The pieces joined start the
    /// returned text: words that arrive together with the end, and the whole answer of a server that does not
    /// stream, are only returned.
    /// - Throws: as `complete`; `LLMError.interrupted` when the answer broke off after a piece was handed over.
    func stream(_ request: LLMRequest, onText: @escaping @Sendable (String) -> Void) async throws -> LLMCompletion
}
