@testable import EnableBotAPI
import Foundation
import Testing

/// The model's Markdown as Slack mrkdwn: inert, readable, in parts that fit.
@Suite("Slack text")
struct SlackTextTests {
    private func one(_ markdown: String) -> String {
        let parts = SlackText.render(markdown: markdown)
        #expect(parts.count == 1)
        return parts.first ?? ""
    }

    /// No `<` or `>` that Slack would act on: every one is escaped, except those of a rendered http(s) link.
    private func expectInert(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!text.contains("<!"), sourceLocation: sourceLocation)
        #expect(!text.contains("<@"), sourceLocation: sourceLocation)
        #expect(!text.contains("<#"), sourceLocation: sourceLocation)
    }

    @Test("Slack's control sequences written by the model arrive as literal text", arguments: [
        ("<!channel> look", "&lt;!channel&gt; look"),
        ("<!here>", "&lt;!here&gt;"),
        ("<!everyone> hi", "&lt;!everyone&gt; hi"),
        ("ping <!subteam^S123|@admins>", "ping &lt;!subteam^S123|@admins&gt;"),
        ("ask <@U123ABC> or <@W999|bob>", "ask &lt;@U123ABC&gt; or &lt;@W999|bob&gt;"),
        ("see <http://evil.example|bank.com>", "see &lt;http://evil.example|bank.com&gt;"),
        ("<#C123|general> & <!date^1392734382^{date}|x>", "&lt;#C123|general&gt; &amp; &lt;!date^1392734382^{date}|x&gt;"),
        ("a &lt; b && c > d", "a &amp;lt; b &amp;&amp; c &gt; d"),
    ])
    func hostile(input: String, expected: String) {
        let text = one(input)
        #expect(text == expected)
        expectInert(text)
    }

    @Test("bare @channel, @here and @everyone stay plain words (posted with parse none, link_names false)")
    func bareWords() {
        #expect(one("@channel @here @everyone please read") == "@channel @here @everyone please read")
    }

    @Test("hostile strings inside code, links and headings are escaped too")
    func hostileEverywhere() {
        let text = one("""
            # <!channel> heading
            `<!here>` and **<@U1>** and [<!everyone>](https://example.com/<!channel>)

            ```
            <!channel> & <http://x|y>
            ```
            """)
        expectInert(text)
        #expect(text.contains("*&lt;!channel&gt; heading*"))
        #expect(text.contains("`&lt;!here&gt;`"))
        #expect(text.contains("*&lt;@U1&gt;*"))
        #expect(text.contains("<https://example.com/%3C!channel%3E|&lt;!everyone&gt;>"))
        #expect(text.contains("```\n&lt;!channel&gt; &amp; &lt;http://x|y&gt;\n```"))
    }

    @Test("a link label cannot close the link or forge another")
    func linkLabelForgery() {
        #expect(one("[bank.com|x](https://evil.example)") == "<https://evil.example|bank.com\u{FF5C}x>")
        #expect(one("[a> <https://bank.com|bank](https://evil.example)").hasPrefix("<https://evil.example|a&gt; &lt;https"))
        #expect(one("[x](https://evil.example/a|b>c)") == "<https://evil.example/a%7Cb%3Ec|x>")
        #expect(one("[x](https://a.example/?q=1&r=2)") == "<https://a.example/?q=1&amp;r=2|x>")
    }

    @Test("only http(s) links become links; other schemes stay literal")
    func linkSchemes() {
        #expect(one("[docs](https://swift.org)") == "<https://swift.org|docs>")
        #expect(one("[docs](http://swift.org/a_(b))") == "<http://swift.org/a_(b)|docs>")
        #expect(one("[docs](https://swift.org \"Swift\")") == "<https://swift.org|docs>")
        #expect(one("[](https://swift.org)") == "<https://swift.org|https://swift.org>")
        #expect(one("[click](javascript:alert(1))") == "[click](javascript:alert(1))")
        #expect(one("[mail](mailto:a@b.c)") == "[mail](mailto:a@b.c)")
        #expect(one("[rel](/path)") == "[rel](/path)")
        #expect(one("[no](https://)") == "[no](https://)")
    }

    @Test("Markdown emphasis, code and headings become mrkdwn", arguments: [
        ("**bold** and __also__", "*bold* and *also*"),
        ("*italic* and _italic_", "_italic_ and _italic_"),
        ("***both***", "*_both_*"),
        ("~~gone~~", "~gone~"),
        ("use `a < b && **c**` here", "use `a &lt; b &amp;&amp; **c**` here"),
        ("``code with ` tick``", "`code with ` tick`"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("# Title", "*Title*"),
        ("### **Sub** title ###", "*Sub title*"),
        ("#hashtag", "#hashtag"),
        ("Echo: what is a sliding window?", "Echo: what is a sliding window?"),
    ])
    func inline(input: String, expected: String) {
        #expect(one(input) == expected)
    }

    @Test("lists keep their markers; * and + bullets become -; headings stand on their own line")
    func lists() {
        let text = one("""
            ## Steps
            * first **step**
            + second
              - nested
            1. one
            2. two
            > quoted
            """)
        #expect(text == "*Steps*\n- first *step*\n- second\n  - nested\n1. one\n2. two\n&gt; quoted")
    }

    @Test("fenced code keeps its content verbatim but escaped, without the language tag")
    func fencedCode() {
        let text = one("""
            Try:

            ```swift
            let x = **y** < 3 && _z_
            print("<@U1>")
            ```
            Done.
            """)
        #expect(text == "Try:\n\n```\nlet x = **y** &lt; 3 &amp;&amp; _z_\nprint(\"&lt;@U1&gt;\")\n```\nDone.")
    }

    @Test("an unclosed fence runs to the end and is still closed")
    func unclosedFence() {
        #expect(one("```\ncode <!here>") == "```\ncode &lt;!here&gt;\n```")
    }

    @Test("short answers are one part; empty answers are one empty part")
    func short() {
        #expect(SlackText.render(markdown: "hi") == ["hi"])
        #expect(SlackText.render(markdown: "") == [""])
    }

    @Test("long answers are split between paragraphs, each part within the limit")
    func splitParagraphs() {
        let paragraphs = (1...30).map { "Paragraph \($0): " + String(repeating: "word ", count: 40) }
        let parts = SlackText.render(markdown: paragraphs.joined(separator: "\n\n"))
        #expect(parts.count > 1)
        for part in parts {
            #expect(part.utf16.count <= SlackText.messageLimit)
            #expect(part.hasPrefix("Paragraph "))
        }
        #expect(parts.joined(separator: "\n\n") == paragraphs.joined(separator: "\n\n"))
    }

    @Test("a code block that fits is never split; one too long is closed and reopened")
    func splitCode() {
        let prose = String(repeating: "intro ", count: 500)
        let code = (1...50).map { "let line\($0) = \($0) // " + String(repeating: "x", count: 40) }.joined(separator: "\n")
        let parts = SlackText.render(markdown: prose + "\n\n```\n" + code + "\n```\n\nAfter.")
        #expect(parts.count == 2)
        #expect(parts[1].hasPrefix("```\nlet line1 ="))
        #expect(parts[1].hasSuffix("```\n\nAfter."))

        let long = (1...200).map { "let line\($0) = \($0) // " + String(repeating: "y", count: 40) }.joined(separator: "\n")
        let cut = SlackText.render(markdown: "```\n" + long + "\n```")
        #expect(cut.count > 1)
        for part in cut {
            #expect(part.utf16.count <= SlackText.messageLimit)
            #expect(part.hasPrefix("```\n"))
            #expect(part.hasSuffix("\n```"))
        }
        let lines = cut.flatMap { $0.split(separator: "\n").filter { $0 != "```" } }
        #expect(lines.count == 200)
    }

    @Test("a single huge line is cut between words, never inside an entity or a link")
    func splitLine() {
        let words = String(repeating: "a&b ", count: 2_000)
        let parts = SlackText.render(markdown: words)
        #expect(parts.count > 1)
        for part in parts {
            #expect(part.utf16.count <= SlackText.messageLimit)
            #expect(!part.hasSuffix("&"))
            #expect(!part.hasPrefix("amp;"))
        }
        let solid = String(repeating: "<", count: 5_000)
        for part in SlackText.render(markdown: solid) {
            #expect(part.utf16.count <= SlackText.messageLimit)
            #expect(part.replacingOccurrences(of: "&lt;", with: "").isEmpty)
        }
    }
}
