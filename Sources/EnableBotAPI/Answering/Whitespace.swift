extension StringProtocol {
    /// The text without leading and trailing white space (Unicode's White_Space: the same characters as Foundation's
    /// `.whitespacesAndNewlines`), without Foundation's `NSString` round trip, which the answer path paid several
    /// times per answer.
    var trimmingWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }

    /// Nothing but white space (or nothing at all).
    var isBlank: Bool { allSatisfy(\.isWhitespace) }
}
