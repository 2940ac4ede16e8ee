import Foundation
import Hummingbird

/// Small helpers for the emulator's server-rendered pages.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func page(title: String, body: String, status: HTTPResponse.Status = .ok) -> Response {
        let html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title><style>\(style)</style></head>
        <body>\(body)</body></html>
        """
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html))
        )
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// `url` with `params` appended as a query.
    static func url(_ base: String, _ params: [(String, String)]) -> String {
        base + (base.contains("?") ? "&" : "?") + params.map { "\($0.0)=\(queryEscape($0.1))" }.joined(separator: "&")
    }

    static func queryEscape(_ text: String) -> String {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    static func hidden(_ fields: [(String, String)]) -> String {
        fields.map { "<input type=\"hidden\" name=\"\(escape($0.0))\" value=\"\(escape($0.1))\">" }.joined()
    }

    static let style = """
    *{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1c1d;background:#f4f4f6}
    a{color:#1264a3}h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1rem;margin:1rem 0 .4rem}
    .banner{background:#3f0e40;color:#fff;padding:.55rem 1rem;font-size:.9rem}.banner b{color:#ecb22e}
    .card{max-width:560px;margin:2rem auto;background:#fff;border:1px solid #ddd;border-radius:10px;padding:1.5rem 1.75rem}
    .scopes li{margin:.3rem 0}.scopes code{background:#f1f1f1;padding:0 .3rem;border-radius:3px}
    .muted{color:#616061;font-size:.85rem}select,input[type=text],textarea{font:inherit;padding:.45rem;border:1px solid #bbb;border-radius:6px;width:100%}
    button{font:inherit;border:0;border-radius:6px;padding:.5rem 1.1rem;cursor:pointer;background:#e8e8e8}
    button.primary{background:#007a5a;color:#fff;font-weight:600}.actions{display:flex;gap:.6rem;justify-content:flex-end;margin-top:1.2rem}
    .layout{display:flex;min-height:calc(100vh - 2.3rem)}nav{width:260px;background:#3f0e40;color:#e8dbe8;padding:.8rem;flex:none}
    nav .ws{border:1px solid #5c2c5d;border-radius:8px;padding:.5rem .6rem;margin-bottom:.8rem}nav .ws.current{background:#522653;border-color:#9c6b9d}
    nav .ws h3{margin:0 0 .3rem;font-size:1rem;color:#fff}nav a{color:#e8dbe8;text-decoration:none;display:block;padding:.12rem .4rem;border-radius:4px}
    nav a.here{background:#1164a3;color:#fff}.badge{font-size:.72rem;border-radius:3px;padding:0 .3rem;margin-left:.3rem;background:#2bac76;color:#fff}
    .badge.off{background:#8d6e8e}main{flex:1;display:flex;flex-direction:column;min-width:0;background:#fff}
    main header{padding:.6rem 1rem;border-bottom:1px solid #ddd}main header h1{margin:0;font-size:1.15rem}
    #messages{flex:1;overflow-y:auto;padding:.5rem 1rem 1rem}.msg{padding:.35rem .5rem;border-radius:6px;margin:.2rem 0}
    .msg .meta{font-size:.85rem}.msg .meta b{font-size:.95rem}.msg time{color:#616061;margin-left:.35rem}
    .msg .text{white-space:pre-wrap;overflow-wrap:anywhere}.app{font-size:.68rem;background:#e8e8e8;color:#555;border-radius:3px;padding:0 .25rem;margin-left:.3rem}
    .ephemeral{background:#f8f3e6;border-left:3px solid #ecb22e}.only{color:#8a6d1a;font-size:.78rem;margin-left:.5rem}
    .thread{margin:.1rem 0 .6rem 1.6rem;border-left:2px solid #ddd;padding-left:.7rem}.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 .15rem}
    .streaming .text::after{content:" \\258D";color:#1264a3}.status{color:#616061;font-style:italic;font-size:.88rem;margin:.2rem .5rem}
    .prompts button{margin:.2rem .3rem 0 0;background:#fff;border:1px solid #bbb;font-size:.85rem;padding:.25rem .6rem}
    details summary{cursor:pointer;color:#1264a3;font-size:.82rem;margin-left:.5rem}details form{display:flex;gap:.4rem;margin:.3rem 0}
    .composer{border-top:1px solid #ddd;padding:.7rem 1rem}.composer form{display:flex;gap:.5rem}.composer .muted{margin-top:.3rem}
    .side{margin-top:1rem;font-size:.8rem;color:#d6c4d6;overflow-wrap:anywhere}.side ul{padding-left:1rem;margin:.2rem 0}.side button{font-size:.78rem;padding:.2rem .5rem;margin-top:.3rem}
    .side select{font-size:.85rem;padding:.25rem}.title{font-weight:600;font-size:.85rem;color:#3f0e40;margin-left:.5rem}
    @media (max-width:720px){.layout{flex-direction:column}nav{width:auto}}
    """
}

/// Slack's message text as HTML: `<@U…>` mentions become names, `<!here>` becomes @here, `<url|label>` a link;
/// Slack's own `&amp;`, `&lt;`, `&gt;` are decoded and everything is escaped again.
enum SlackText {
    static func html(_ text: String, workspace: EmulatedWorkspace) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            out += plain(rest[..<open])
            let token = rest[rest.index(after: open)..<close]
            if token.hasPrefix("@") {
                let id = String(token.dropFirst().split(separator: "|").first ?? "")
                let name = workspace.user(id).map { $0.isBot ? $0.realName : $0.realName } ?? id
                out += "<span class=\"mention\">@\(HTML.escape(name))</span>"
            } else if token.hasPrefix("!") {
                out += "<span class=\"mention\">@\(HTML.escape(String(token.dropFirst().split(separator: "|").first ?? "")))</span>"
            } else {
                let parts = token.split(separator: "|", maxSplits: 1).map(String.init)
                let url = parts.first ?? ""
                let label = parts.count > 1 ? parts[1] : url
                if url.hasPrefix("http://") || url.hasPrefix("https://") {
                    out += "<a href=\"\(HTML.escape(url))\" rel=\"noreferrer\">\(HTML.escape(label))</a>"
                } else {
                    out += HTML.escape(label)
                }
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + plain(rest)
    }

    private static func plain(_ text: Substring) -> String {
        HTML.escape(text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&"))
    }

    /// What a person typed, as Slack sends it: `&`, `<`, `>` escaped, `@EnableBot` and `@name` as `<@U…>`.
    static func fromPerson(_ typed: String, workspace: EmulatedWorkspace) -> String {
        var text = typed.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
        for user in workspace.users.sorted(by: { $0.realName.count > $1.realName.count }) {
            let names = user.isBot ? ["@EnableBot", "@enablebot"] : ["@" + user.name]
            for name in names {
                text = text.replacingOccurrences(of: name, with: "<@\(user.id)>", options: [.caseInsensitive])
            }
        }
        return text
    }
}
