import Foundation

/// Turns the model's Markdown into Slack `mrkdwn` that is safe to post as `text`, in parts short enough for one
/// message each. Pure: no I/O.
///
/// Safety: everything the model wrote is escaped as Slack asks (`&` → `&amp;`, `<` → `&lt;`, `>` → `&gt;`, and
/// only these), so `<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^…>`, `<@U…>`, `<#C…>` and `<url|label>`
/// arrive as literal text. The only `<…>` EnableBot adds is for a Markdown link `[label](http(s)://…)`: its URL
/// cannot close the link (`|`, `<`, `>` are percent-encoded) and its label cannot start another (`<`, `>` are
/// escaped, `|` becomes `｜`). Bare `@channel`/`@here` are plain words with `parse: none` and `link_names: false`
/// (see `SlackWebClient.postMessage`).
///
/// Formatting: `**b**`/`__b__` → `*b*`, `*i*` → `_i_` (`_i_` stays), `~~s~~` → `~s~`, inline code and fenced
/// blocks keep their backticks (a fence's language tag is dropped; Slack would show it) and are only escaped,
/// `# Heading` → `*Heading*` on its own line, `* item`/`+ item` → `- item`, `1. item` and quotes (`> q`, which Slack
/// reads as `&gt; q`) stay.
///
/// Splitting: parts of at most `limit` UTF-16 units, cut between paragraphs or code blocks; a paragraph too long
/// is cut between lines, then between words; a code block too long is cut between lines, each part closing and
/// reopening the fence.
enum SlackText {
    /// Below Slack's 4,000 characters for `text`, leaving room.
    static let messageLimit = 3_500

    static func render(markdown: String, limit: Int = messageLimit) -> [String] {
        let units = blocks(markdown)
        var parts: [String] = []
        var current = ""
        for unit in units {
            for piece in unit.pieces(limit: limit) {
                let joined = current.isEmpty ? piece : current + unit.separator + piece
                if joined.utf16.count <= limit {
                    current = joined
                } else {
                    if !current.isEmpty { parts.append(current) }
                    current = piece
                }
            }
        }
        if !current.isEmpty { parts.append(current) }
        return parts.isEmpty ? [""] : parts
    }

    /// Escapes text for Slack's `text` field: `&`, `<`, `>` and nothing else.
    static func escape<S: StringProtocol>(_ text: S) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            default: result.append(character)
            }
        }
        return result
    }

    /// Escapes a piece of the model's Markdown for a streamed message's `markdown_text`: `&`, `<` and `>` as for
    /// `text`, so the same control sequences stay literal, except a `>` that opens a line (after up to 3 spaces),
    /// which stays a quote. `lineStart` carries, from piece to piece, whether the next character opens a line
    /// (and how many spaces it has had): true for the first piece.
    static func escapeMarkdown<S: StringProtocol>(_ text: S, lineStart: inout LineStart) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += lineStart.opensLine ? ">" : "&gt;"
            default: result.append(character)
            }
            lineStart.advance(past: character)
        }
        return result
    }

    /// Where a streamed text stands: at the start of a line (after `spaces` of indentation) or inside one.
    struct LineStart: Equatable {
        private var spaces: Int? = 0

        static let beginning = LineStart()

        var opensLine: Bool { spaces.map { $0 <= 3 } ?? false }

        mutating func advance(past character: Character) {
            if character.isNewline {
                spaces = 0
            } else if character == " ", let count = spaces {
                spaces = count + 1
            } else {
                spaces = nil
            }
        }
    }

    // MARK: Blocks

    /// A paragraph (rendered lines) or a fenced code block (escaped content lines), with what joins it to the
    /// unit before it.
    struct Unit {
        var isCode: Bool
        var lines: [String]
        var separator: String

        /// The unit as text, cut into pieces of at most `limit` when it is longer.
        func pieces(limit: Int) -> [String] {
            if isCode {
                let whole = "```\n" + lines.joined(separator: "\n") + "\n```"
                if whole.utf16.count <= limit { return [whole] }
                let room = max(1, limit - 8)  // "```\n" + "\n```"
                return pack(lines.flatMap { SlackText.cut($0, limit: room) }, limit: room).map { "```\n" + $0 + "\n```" }
            }
            let whole = lines.joined(separator: "\n")
            if whole.utf16.count <= limit { return [whole] }
            return pack(lines.flatMap { SlackText.cut($0, limit: limit) }, limit: limit)
        }

        private func pack(_ lines: [String], limit: Int) -> [String] {
            var pieces: [String] = []
            var current: String?
            for line in lines {
                if let so = current, so.utf16.count + 1 + line.utf16.count <= limit {
                    current = so + "\n" + line
                } else {
                    if let current { pieces.append(current) }
                    current = line
                }
            }
            if let current { pieces.append(current) }
            return pieces
        }
    }

    static func blocks(_ markdown: String) -> [Unit] {
        let lines = markdown.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        var units: [Unit] = []
        var paragraph: [String] = []
        var sawBlank = false
        func separator() -> String { units.isEmpty ? "" : (sawBlank ? "\n\n" : "\n") }
        func endParagraph() {
            if !paragraph.isEmpty {
                units.append(Unit(isCode: false, lines: paragraph, separator: separator()))
                paragraph = []
                sawBlank = false
            }
        }
        var index = 0
        while index < lines.count {
            let line = lines[index]
            if let fence = fenceMarker(line) {
                endParagraph()
                var code: [String] = []
                index += 1
                while index < lines.count, !isClosingFence(lines[index], marker: fence) {
                    code.append(escape(lines[index]))
                    index += 1
                }
                index += 1  // the closing fence (or the end)
                units.append(Unit(isCode: true, lines: code.isEmpty ? [""] : code, separator: separator()))
                sawBlank = false
                continue
            }
            if line.allSatisfy(\.isWhitespace) {
                endParagraph()
                if !units.isEmpty { sawBlank = true }
            } else if let heading = heading(line) {
                endParagraph()
                paragraph = [heading]
                endParagraph()
            } else {
                paragraph.append(renderLine(line))
            }
            index += 1
        }
        endParagraph()
        return units
    }

    /// "```" or "~~~" (3 or more) opening a fenced block, indented at most 3 spaces.
    private static func fenceMarker(_ line: Substring) -> String? {
        let trimmed = line.drop { $0 == " " }
        guard line.count - trimmed.count <= 3, let first = trimmed.first, first == "`" || first == "~" else { return nil }
        let run = trimmed.prefix { $0 == first }
        guard run.count >= 3 else { return nil }
        if first == "`", trimmed.dropFirst(run.count).contains("`") { return nil }  // ```code``` on one line: inline
        return String(run)
    }

    private static func isClosingFence(_ line: Substring, marker: String) -> Bool {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        return trimmed.hasPrefix(marker) && trimmed.allSatisfy { $0 == marker.first }
    }

    /// `# Title` … `###### Title` as `*Title*` (closing `#`s and inner `**` dropped).
    private static func heading(_ line: Substring) -> String? {
        let trimmed = line.drop { $0 == " " }
        guard line.count - trimmed.count <= 3 else { return nil }
        let hashes = trimmed.prefix { $0 == "#" }
        guard (1...6).contains(hashes.count) else { return nil }
        let rest = trimmed.dropFirst(hashes.count)
        guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { return nil }
        var title = rest.trimmingCharacters(in: .whitespaces)
        while title.hasSuffix("#") { title.removeLast() }
        title = title.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "**", with: "")
            .replacingOccurrences(of: "__", with: "")
        guard !title.isEmpty else { return "" }
        return "*" + inline(Substring(title)) + "*"
    }

    /// One line outside code: list markers normalized, then inline formatting.
    private static func renderLine(_ line: Substring) -> String {
        let indent = line.prefix { $0 == " " || $0 == "\t" }
        let rest = line.dropFirst(indent.count)
        if let marker = rest.first, marker == "*" || marker == "+" || marker == "-", rest.dropFirst().first == " " {
            return String(indent) + "- " + inline(rest.dropFirst(2).drop { $0 == " " })
        }
        return String(indent) + inline(rest)
    }

    // MARK: Inline

    static func inline(_ text: Substring) -> String {
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let rest = text[i...]
            let character = text[i]
            if character == "`" {
                let run = rest.prefix { $0 == "`" }
                let after = rest.dropFirst(run.count)
                if let close = closingRun(of: run.count, in: after) {
                    out += "`" + escape(after[after.startIndex..<close]) + "`"
                    i = text.index(close, offsetBy: run.count)
                } else {
                    out += run
                    i = run.endIndex
                }
                continue
            }
            if character == "[", let link = link(rest) {
                out += "<" + link.url + "|" + link.label + ">"
                i = link.end
                continue
            }
            if rest.hasPrefix("**") || rest.hasPrefix("__"), let (content, end) = delimited(rest, marker: String(rest.prefix(2))) {
                out += "*" + inline(content) + "*"
                i = end
                continue
            }
            if rest.hasPrefix("~~"), let (content, end) = delimited(rest, marker: "~~") {
                out += "~" + inline(content) + "~"
                i = end
                continue
            }
            if character == "*", let (content, end) = delimited(rest, marker: "*") {
                out += "_" + inline(content) + "_"
                i = end
                continue
            }
            out += escape(String(character))
            i = text.index(after: i)
        }
        return out
    }

    /// Where the next run of exactly `count` backticks starts.
    private static func closingRun(of count: Int, in text: Substring) -> Substring.Index? {
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == "`" {
                let run = text[i...].prefix { $0 == "`" }
                if run.count == count { return i }
                i = run.endIndex
            } else {
                i = text.index(after: i)
            }
        }
        return nil
    }

    /// `marker content marker` at the start of `text`: content not empty, not starting or ending with a space,
    /// and (for a single `*`) the closing marker not part of `**`.
    private static func delimited(_ text: Substring, marker: String) -> (Substring, Substring.Index)? {
        let start = text.index(text.startIndex, offsetBy: marker.count)
        guard start < text.endIndex, !text[start].isWhitespace, !text[start...].hasPrefix(marker) else { return nil }
        var search = start
        while var range = text[search...].range(of: marker) {
            // `***x***`: the closing `**` is the last two of the run, leaving `*x*` inside.
            while marker.count == 2, range.upperBound < text.endIndex, text[range.upperBound] == marker.first {
                range = text.index(after: range.lowerBound)..<text.index(after: range.upperBound)
            }
            let content = text[start..<range.lowerBound]
            let doubled = marker.count == 1 && text[range.upperBound...].hasPrefix(marker)
            if !content.isEmpty, !(content.last?.isWhitespace ?? true), !doubled {
                return (content, range.upperBound)
            }
            search = doubled ? text.index(after: range.upperBound) : range.upperBound
            if search >= text.endIndex { break }
        }
        return nil
    }

    /// `[label](http(s)://…)` at the start of `text`, rendered parts ready for `<url|label>`; nil for anything else
    /// (other schemes, relative links), which then stays literal text.
    private static func link(_ text: Substring) -> (url: String, label: String, end: Substring.Index)? {
        guard let closeLabel = text.firstIndex(of: "]") else { return nil }
        let label = text[text.index(after: text.startIndex)..<closeLabel]
        let afterLabel = text.index(after: closeLabel)
        guard afterLabel < text.endIndex, text[afterLabel] == "(" else { return nil }
        var depth = 0
        var close: Substring.Index?
        var i = text.index(after: afterLabel)
        while i < text.endIndex {
            if text[i] == "(" { depth += 1 }
            if text[i] == ")" {
                if depth == 0 { close = i; break }
                depth -= 1
            }
            i = text.index(after: i)
        }
        guard let close else { return nil }
        var target = text[text.index(after: afterLabel)..<close].trimmingCharacters(in: .whitespaces)
        if let space = target.firstIndex(where: \.isWhitespace) { target = String(target[..<space]) }  // a title
        if target.hasPrefix("<"), target.hasSuffix(">"), target.count >= 2 { target = String(target.dropFirst().dropLast()) }
        let lower = target.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), target.count > (lower.hasPrefix("https") ? 8 : 7)
        else { return nil }
        var url = ""
        for character in target {
            switch character {
            case "&": url += "&amp;"
            case "<": url += "%3C"
            case ">": url += "%3E"
            case "|": url += "%7C"
            default: url.append(character)
            }
        }
        let shown = label.isEmpty ? Substring(target) : label
        let safeLabel = escape(shown).replacingOccurrences(of: "|", with: "\u{FF5C}")
        return (url, safeLabel, text.index(after: close))
    }

    // MARK: Cutting one line

    /// One line in pieces of at most `limit` UTF-16 units: at the last space that fits, else anywhere that does
    /// not split an `&amp;`-style entity or a `<url|label>` link.
    static func cut(_ line: String, limit: Int) -> [String] {
        var pieces: [String] = []
        var rest = Substring(line)
        while rest.utf16.count > limit {
            var end = rest.startIndex
            var used = 0
            for index in rest.indices {
                let width = rest[index].utf16.count
                if used + width > limit { break }
                used += width
                end = rest.index(after: index)
            }
            if end == rest.startIndex { end = rest.index(after: rest.startIndex) }
            var cutAt = end
            if let space = rest[..<end].lastIndex(of: " "), space > rest.startIndex {
                cutAt = space
            } else {
                let head = rest[..<end]
                if let amp = head.lastIndex(of: "&"), !head[amp...].contains(";"), amp > rest.startIndex { cutAt = amp }
                if let open = head.lastIndex(of: "<"), !head[open...].contains(">"), open > rest.startIndex, open < cutAt {
                    cutAt = open
                }
            }
            pieces.append(String(rest[..<cutAt]))
            rest = rest[cutAt...].drop { $0 == " " }
        }
        if !rest.isEmpty || pieces.isEmpty { pieces.append(String(rest)) }
        return pieces
    }
}
