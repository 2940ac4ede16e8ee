import EnableBotCore
import Foundation
import Logging

/// `POST {baseURL}/chat/completions` on any OpenAI-compatible endpoint, with a bearer key. 5xx, 429 and
/// connection failures are retried with exponential backoff a bounded number of times; a timeout is final
/// (retrying it would keep the user waiting several timeouts long).
public struct OpenAIChatClient: LLMClient {
    private let endpoint: String
    private let apiKey: String
    private let timeout: Duration
    private let http: any HTTPClient
    private let maxRetries: Int
    private let backoff: Duration
    private let sleep: @Sendable (Duration) async throws -> Void
    private let logger: Logger

    public init(
        baseURL: String, apiKey: String, timeout: Duration, http: any HTTPClient, logger: Logger,
        maxRetries: Int = 2, backoff: Duration = .milliseconds(500),
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.endpoint = (baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL) + "/chat/completions"
        self.apiKey = apiKey
        self.timeout = timeout
        self.http = http
        self.maxRetries = maxRetries
        self.backoff = backoff
        self.sleep = sleep
        self.logger = logger
    }

    /// How many calls at most one `complete` makes.
    public var maxAttempts: Int { maxRetries + 1 }

    private struct Body: Encodable {
        var model: String
        var messages: [LLMMessage]
    }

    private struct Completion: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable { var content: String? }
            var message: Message?
        }
        struct Usage: Decodable {
            var prompt_tokens: Int64?
            var completion_tokens: Int64?
        }
        var choices: [Choice]
        var usage: Usage?
    }

    public func complete(_ request: LLMRequest) async throws -> LLMCompletion {
        let body = try JSONEncoder().encode(Body(model: request.model, messages: request.messages))
        let httpRequest = HTTPClientRequest(
            method: "POST", url: endpoint,
            headers: [("Content-Type", "application/json"), ("Accept", "application/json"), ("Authorization", "Bearer \(apiKey)")],
            body: Array(body), timeout: timeout
        )
        var attempt = 0
        while true {
            attempt += 1
            let failure: LLMError
            do {
                let response = try await http.send(httpRequest)
                switch response.status {
                case 200..<300:
                    guard let completion = try? JSONDecoder().decode(Completion.self, from: Data(response.body)),
                          let content = completion.choices.first?.message?.content,
                          !content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                        throw LLMError.invalidResponse("no answer in the completion")
                    }
                    // Usage counts only when the server gave both numbers, and sane ones.
                    let usage = completion.usage.flatMap { usage -> LLMUsage? in
                        guard let prompt = usage.prompt_tokens, let answer = usage.completion_tokens, prompt >= 0, answer >= 0 else {
                            return nil
                        }
                        return LLMUsage(promptTokens: prompt, completionTokens: answer)
                    }
                    return LLMCompletion(text: content, usage: usage)
                case 429, 500..<600:
                    failure = .unavailable("HTTP \(response.status)")
                default:
                    throw LLMError.rejected("HTTP \(response.status)")
                }
            } catch let error as HTTPClientError {
                if error == .cancelled || Task.isCancelled { throw CancellationError() }
                if error == .timedOut { throw LLMError.timedOut("no answer within \(timeout)") }
                failure = .unavailable("\(error)")
            }
            guard attempt <= maxRetries else { throw failure }
            let wait = backoff * (1 << (attempt - 1))
            logger.warning("model call failed; retrying", metadata: [
                "attempt": "\(attempt)", "error": "\(failure.detail)", "retry_in_ms": "\(wait.milliseconds)",
            ])
            try await sleep(wait)
        }
    }
}
