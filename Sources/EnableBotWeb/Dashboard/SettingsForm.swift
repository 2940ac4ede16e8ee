import EnableBotCore

/// The tenant settings form (`model`, `system_prompt`, `rate_limit`, the operator's `token_budget`,
/// `suggested_prompts`): validation and the audit wording.
enum SettingsForm {
    struct Invalid: Error {
        let message: String
    }

    static let maxModelLength = 100
    static let maxPromptLength = 4000

    /// Empty fields mean "the deployment's default" (nil).
    static func validate(_ form: [String: String]) throws -> TenantSettings {
        let model = (form["model"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let allowed = model.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || ".-_:/@".utf8.contains(c)
        }
        guard model.count <= maxModelLength, allowed else {
            throw Invalid(message: "The model name may use letters, digits and . - _ : / @, up to \(maxModelLength) characters.")
        }
        let prompt = (form["system_prompt"] ?? "").replacingOccurrences(of: "\r\n", with: "\n")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard prompt.count <= maxPromptLength else {
            throw Invalid(message: "The system prompt can be at most \(maxPromptLength) characters long.")
        }
        guard !prompt.unicodeScalars.contains(where: { $0.value == 0 }) else {
            throw Invalid(message: "The system prompt contains a character that cannot be stored.")
        }
        let limitText = (form["rate_limit"] ?? "").trimmingCharacters(in: .whitespaces)
        var rateLimit: RateLimitSpec?
        if !limitText.isEmpty {
            guard let parsed = RateLimitSpec(parsing: limitText) else {
                throw Invalid(message: "The rate limit must look like 50/minute (per second, minute or hour).")
            }
            rateLimit = parsed
        }
        return TenantSettings(model: model.isEmpty ? nil : model, systemPrompt: prompt.isEmpty ? nil : prompt, rateLimit: rateLimit)
    }

    /// The `token_budget` field: nil when the form has none (leave the budget as it is), `.some(nil)` when it is empty
    /// (the deployment's `TOKEN_BUDGET_PER_TENANT`), else `N/month`, a bare `N`, or `0` for unlimited.
    static func tokenBudget(_ form: [String: String]) throws -> TokenBudget?? {
        guard let raw = form["token_budget"] else { return nil }
        let text = raw.trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return .some(nil) }
        guard let budget = TokenBudget(parsing: text) else {
            throw Invalid(message: "The token budget must look like 2000000/month (tokens a month), or 0 for unlimited.")
        }
        return .some(budget)
    }

    /// Longest title made up from a line that gives only a message.
    static let derivedTitleLength = 30

    /// The `suggested_prompts` textarea: nil when the form has none (leave the prompts as they are), `.some(nil)` when
    /// it is blank (EnableBot's defaults), else one prompt per non-blank line, `Title | message` or just a message (the
    /// title is then its first words). At most `SuggestedPrompt.maxCount` lines, titles and messages within Slack's
    /// sizes; anything else is `Invalid` with a sentence saying which line and why.
    static func suggestedPrompts(_ form: [String: String]) throws -> [SuggestedPrompt]?? {
        guard let raw = form["suggested_prompts"] else { return nil }
        let lines = raw.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if lines.isEmpty { return .some(nil) }
        guard lines.count <= SuggestedPrompt.maxCount else {
            throw Invalid(message: "Slack shows at most \(SuggestedPrompt.maxCount) suggested prompts: write one per line, \(lines.count) is too many.")
        }
        var prompts: [SuggestedPrompt] = []
        for (index, line) in lines.enumerated() {
            let number = index + 1
            guard !line.unicodeScalars.contains(where: { $0.value == 0 }) else {
                throw Invalid(message: "Suggested prompt \(number) contains a character that cannot be stored.")
            }
            var title: String
            let message: String
            if let bar = line.firstIndex(of: "|") {
                title = line[..<bar].trimmingCharacters(in: .whitespaces)
                message = line[line.index(after: bar)...].trimmingCharacters(in: .whitespaces)
            } else {
                title = ""
                message = line
            }
            guard !message.isEmpty else {
                throw Invalid(message: "Suggested prompt \(number) has a title but no message: write it as “Title | message”.")
            }
            guard message.count <= SuggestedPrompt.maxMessageLength else {
                throw Invalid(message: "The message of suggested prompt \(number) can be at most \(SuggestedPrompt.maxMessageLength) characters long.")
            }
            if title.isEmpty { title = derivedTitle(message) }
            guard title.count <= SuggestedPrompt.maxTitleLength else {
                throw Invalid(message: "The title of suggested prompt \(number) can be at most \(SuggestedPrompt.maxTitleLength) characters long.")
            }
            prompts.append(SuggestedPrompt(title: title, message: message))
        }
        return .some(prompts)
    }

    /// A title for a prompt given only as a message: its first words, at most `derivedTitleLength` characters
    /// (a first word longer than that is cut, with an ellipsis).
    static func derivedTitle(_ message: String) -> String {
        var title = ""
        for word in message.split(separator: " ", omittingEmptySubsequences: true) {
            let candidate = title.isEmpty ? String(word) : title + " " + word
            if candidate.count > derivedTitleLength { break }
            title = candidate
        }
        if title.isEmpty { title = String(message.prefix(derivedTitleLength - 1)) + "…" }
        return title
    }

    /// The prompts as the textarea shows them: one `Title | message` per line.
    static func promptsText(_ prompts: [SuggestedPrompt]) -> String {
        prompts.map { "\($0.title) | \($0.message)" }.joined(separator: "\n")
    }

    /// "model: default → gpt-4o; rate limit: 100/minute → 50/minute; system prompt changed (120 characters)".
    static func describeChange(from old: TenantSettings, to new: TenantSettings) -> String {
        var parts: [String] = []
        if old.model != new.model { parts.append("model: \(old.model ?? "default") → \(new.model ?? "default")") }
        if old.rateLimit != new.rateLimit {
            parts.append("rate limit: \(old.rateLimit?.description ?? "default") → \(new.rateLimit?.description ?? "default")")
        }
        if old.rateLimitCeiling != new.rateLimitCeiling {
            parts.append("operator's limit: \(old.rateLimitCeiling?.description ?? "default") → \(new.rateLimitCeiling?.description ?? "default")")
        }
        if old.tokenBudget != new.tokenBudget {
            parts.append("token budget: \(old.tokenBudget?.description ?? "default") → \(new.tokenBudget?.description ?? "default")")
        }
        if old.suggestedPrompts != new.suggestedPrompts {
            parts.append(new.suggestedPrompts.map { "suggested prompts: \($0.map(\.title).joined(separator: ", "))" }
                ?? "suggested prompts reset to default")
        }
        if old.systemPrompt != new.systemPrompt {
            parts.append(new.systemPrompt.map { "system prompt changed (\($0.count) characters)" } ?? "system prompt reset to default")
        }
        return parts.isEmpty ? "no change" : parts.joined(separator: "; ")
    }
}
