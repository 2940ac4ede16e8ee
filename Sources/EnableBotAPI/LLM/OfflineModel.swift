import Foundation

/// A built-in stand-in for the model, so the quick start answers without an API key (development only;
/// production refuses it). Deterministic: the same conversation always gets the same answer.
public struct OfflineModel: LLMClient {
    public init() {}

    /// Hands the answer over a few words at a time, so streaming can be watched without a model.
    public func stream(_ request: LLMRequest, onText: @escaping @Sendable (String) -> Void) async throws -> LLMCompletion {
        let completion = try await complete(request)
        var piece = ""
        for (index, word) in completion.text.split(separator: " ", omittingEmptySubsequences: false).enumerated() {
            piece += (index == 0 ? "" : " ") + word
            if piece.count >= 24 {
                onText(piece)
                piece = ""
                try await Task.sleep(for: .milliseconds(60))
            }
        }
        if !piece.isEmpty { onText(piece) }
        return completion
    }

    public func complete(_ request: LLMRequest) async throws -> LLMCompletion {
        let question = request.messages.last { $0.role == .user }?.content ?? ""
        let earlier = request.messages.dropLast().filter { $0.role != .system }.count
        let quoted = question.count > 200 ? String(question.prefix(200)) + "…" : question
        var answer = "(offline model, no LLM_API_KEY set) You asked: \u{201C}\(quoted)\u{201D}."
        if earlier > 0 { answer += " I remember \(earlier) earlier message\(earlier == 1 ? "" : "s") in this thread." }
        answer += " Set LLM_API_KEY for real answers."
        // An estimate (about four characters a token), so budgets and the dashboard can be tried without a key.
        let promptCharacters = request.messages.reduce(0) { $0 + $1.content.count }
        return LLMCompletion(
            text: answer,
            usage: LLMUsage(promptTokens: Int64((promptCharacters + 3) / 4), completionTokens: Int64((answer.count + 3) / 4))
        )
    }
}
