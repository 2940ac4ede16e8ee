import Foundation
import Logging

/// Typed reads of environment values, each failing with one line that names the setting and what it expects.
/// An empty value counts as unset. Values of secret settings are never echoed in errors.
struct SettingsReader {
    private let env: [String: String]

    init(_ env: [String: String]) { self.env = env }

    func optional(_ name: String) -> String? {
        guard let value = env[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    func string(_ name: String, default fallback: String) -> String { optional(name) ?? fallback }

    func integer(_ name: String, default fallback: Int, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let text = optional(name) else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(name, "must be a whole number from \(range.lowerBound) to \(range.upperBound) (got \"\(Self.clip(text))\")")
        }
        return value
    }

    /// `true` or `false` (also `1`/`0`, `yes`/`no`, any case).
    func bool(_ name: String, default fallback: Bool) throws(ConfigurationError) -> Bool {
        guard let text = optional(name) else { return fallback }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ConfigurationError(name, "must be true or false (got \"\(Self.clip(text))\")")
        }
    }

    func choice<T: RawRepresentable>(_ name: String, default fallback: T) throws(ConfigurationError) -> T
    where T.RawValue == String {
        guard let text = optional(name) else { return fallback }
        guard let value = T(rawValue: text.lowercased()) else {
            throw ConfigurationError(name, "must be one of \(Self.choices(of: fallback)) (got \"\(Self.clip(text))\")")
        }
        return value
    }

    func url(_ name: String, default fallback: String) throws(ConfigurationError) -> String {
        guard let text = optional(name) else { return fallback }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty else {
            throw ConfigurationError(name, "must be an http:// or https:// URL (got \"\(Self.clip(text))\")")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    func rateLimit(_ name: String, default fallback: RateLimitSpec) throws(ConfigurationError) -> RateLimitSpec {
        guard let text = optional(name) else { return fallback }
        guard let spec = RateLimitSpec(parsing: text) else {
            throw ConfigurationError(name, "must look like 100/minute (N/second, N/minute or N/hour; got \"\(Self.clip(text))\")")
        }
        return spec
    }

    func tokenBudget(_ name: String, default fallback: TokenBudget) throws(ConfigurationError) -> TokenBudget {
        guard let text = optional(name) else { return fallback }
        guard let budget = TokenBudget(parsing: text) else {
            throw ConfigurationError(name, "must look like 2000000/month (tokens a month), or 0 for unlimited (got \"\(Self.clip(text))\")")
        }
        return budget
    }

    /// A comma list of names (`a,b, c`); at least one when set. Names may use letters, digits and `. - _ : / @`.
    func list(_ name: String, default fallback: [String]) throws(ConfigurationError) -> [String] {
        guard let text = optional(name) else { return fallback }
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let wellFormed = items.allSatisfy { item in
            item.count <= 100 && item.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || ".-_:/@".unicodeScalars.contains($0) }
        }
        guard !items.isEmpty, wellFormed else {
            throw ConfigurationError(name, "must be a comma list of names such as gpt-4o-mini,gpt-4o (got \"\(Self.clip(text))\")")
        }
        var seen = Set<String>()
        return items.filter { seen.insert($0).inserted }
    }

    /// A comma list of CIDRs (`10.0.0.0/8, ::1/128`); a bare address counts as a single host.
    func cidrs(_ name: String) throws(ConfigurationError) -> [CIDR] {
        guard let text = optional(name) else { return [] }
        var result: [CIDR] = []
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let cidr = CIDR(item) else {
                throw ConfigurationError(name, "must be a comma list of CIDRs such as 10.0.0.0/8,127.0.0.1/32 (got \"\(Self.clip(item))\")")
            }
            result.append(cidr)
        }
        return result
    }

    func logLevel(_ name: String) throws(ConfigurationError) -> Logger.Level {
        guard let text = optional(name) else { return .info }
        switch text.lowercased() {
        case "trace": return .trace
        case "debug": return .debug
        case "info": return .info
        case "notice": return .notice
        case "warning", "warn": return .warning
        case "error": return .error
        case "critical": return .critical
        default: throw ConfigurationError(name, "must be one of trace, debug, info, notice, warning, error, critical (got \"\(Self.clip(text))\")")
        }
    }

    private static func choices<T>(of value: T) -> String {
        switch value {
        case is Settings.Environment: return "development, production"
        case is Settings.LogFormat: return "json, text"
        default: return "the documented values"
        }
    }

    /// Echoed values are cut short so a pasted secret in the wrong variable is not printed whole.
    private static func clip(_ text: String) -> String {
        text.count > 24 ? String(text.prefix(8)) + "…" : text
    }
}
