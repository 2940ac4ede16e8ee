import EnableBotCore

/// The tenant settings form (`model`, `system_prompt`, `rate_limit`): validation and the audit wording.
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
        if old.systemPrompt != new.systemPrompt {
            parts.append(new.systemPrompt.map { "system prompt changed (\($0.count) characters)" } ?? "system prompt reset to default")
        }
        return parts.isEmpty ? "no change" : parts.joined(separator: "; ")
    }
}
