import Foundation

/// Model tokens (prompt and completion) a workspace may use per UTC calendar month: `2000000/month`; `0` is unlimited.
public struct TokenBudget: Sendable, Hashable, CustomStringConvertible {
    /// Tokens a month; 0: no budget.
    public var tokensPerMonth: Int64

    public static let unlimited = TokenBudget(tokensPerMonth: 0)

    public init(tokensPerMonth: Int64) {
        self.tokensPerMonth = max(0, tokensPerMonth)
    }

    /// `N/month`, or `0` (also `0/month`) for unlimited. A bare `N` is read as `N/month`.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        var number = Substring(trimmed)
        if let slash = trimmed.firstIndex(of: "/") {
            guard trimmed[trimmed.index(after: slash)...] == "month" else { return nil }
            number = trimmed[..<slash]
        }
        let digits = number.filter { $0 != "_" && $0 != "," }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              let value = Int64(digits), value <= 1_000_000_000_000_000 else { return nil }
        self.init(tokensPerMonth: value)
    }

    public var isUnlimited: Bool { tokensPerMonth == 0 }

    /// True when `used` tokens leave nothing to spend.
    public func isExhausted(byUsing used: Int64) -> Bool { !isUnlimited && used >= tokensPerMonth }

    /// `2000000/month`, or `0` for unlimited (both parse back).
    public var description: String { isUnlimited ? "0" : "\(tokensPerMonth)/month" }
}
