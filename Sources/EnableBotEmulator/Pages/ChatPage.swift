import Foundation
import Hummingbird

/// The chat page: pick a workspace, a channel (or the DM with the bot) and who you are, write to the bot, and watch
/// its threaded answers arrive. Server-rendered; a few lines of script long-poll `/chat/messages` so streamed and
/// edited answers appear as they are written (without script, the page refreshes itself).
struct ChatPage {
    /// Which conversation, as whom.
    struct Place {
        var workspace: EmulatedWorkspace
        var channel: EmulatedChannel
        var user: EmulatedUser

        var query: [(String, String)] { [("team", workspace.id), ("channel", channel.id), ("as", user.id)] }
        var link: String { HTML.url("/chat", query) }
    }

    let state: EmulatorState
    let configuration: EmulatorConfiguration

    /// The place `query` names, falling back to the first workspace, #general and its admin.
    func place(_ query: [String: String]) async -> Place? {
        let world = await state.world
        guard let workspace = world.workspace(query["team"] ?? "") ?? world.workspaces.first,
              let user = query["as"].flatMap(workspace.user).flatMap({ $0.isBot ? nil : $0 }) ?? workspace.admin else { return nil }
        var channel = query["channel"].flatMap(workspace.channel) ?? workspace.channels.first
        if let dm = channel, dm.isIM, dm.imUser != user.id { channel = workspace.dm(with: user.id) }  // someone else's DM
        guard let channel else { return nil }
        return Place(workspace: workspace, channel: channel, user: user)
    }

    func render(_ place: Place) async -> Response {
        let world = await state.world
        let version = await state.version
        let installation = world.installation(teamID: place.workspace.id)
        let messages = await messagesHTML(place)
        let title = place.channel.isIM ? "EnableBot (direct message)" : "#" + place.channel.name
        let hint = place.channel.isIM
            ? "Everything you write here goes to the bot. <code>/ask question</code> runs the slash command."
            : "Mention the bot to ask it: <code>@EnableBot what is a sliding window?</code> — or <code>/ask question</code>."
        let assistant = place.channel.isIM
            ? "<form method=\"post\" action=\"/chat/assistant\" id=\"new-assistant-thread\">\(HTML.hidden(place.query))"
                + "<button type=\"submit\">New assistant thread</button></form>"
            : ""
        let notInstalled = installation == nil
            ? "<p class=\"muted\" id=\"not-installed\">EnableBot is not installed in \(HTML.escape(place.workspace.name)) yet: "
                + "install it from the app's install page (<a href=\"\(HTML.escape(configuration.appInstallURL))\">\(HTML.escape(configuration.appInstallURL))</a>); "
                + "until then this workspace receives no answers.</p>"
            : ""
        let body = """
        <div class="banner"><b>Slack emulator</b> — workspaces, channels and events for EnableBot on your machine. Nothing leaves it.</div>
        <div class="layout">
        <nav>\(await sidebar(place, world: world))</nav>
        <main>
        <header><h1 id="channel-title">\(HTML.escape(place.workspace.name)) · \(HTML.escape(title))</h1>
        <span class="muted">You are \(HTML.escape(place.user.realName))\(place.user.isAdmin ? " (workspace admin)" : "")</span></header>
        <div id="messages" data-version="\(version)" data-src="\(HTML.escape(HTML.url("/chat/messages", place.query)))">\(messages)</div>
        <div class="composer">\(notInstalled)
        <form method="post" action="/chat/send" id="composer">\(HTML.hidden(place.query))
        <input type="text" id="text" name="text" autocomplete="off" autofocus placeholder="Message \(HTML.escape(title))">
        <button type="submit" class="primary" id="send">Send</button></form>
        <div class="muted">\(hint)</div>\(assistant)</div>
        </main></div>
        <noscript><meta http-equiv="refresh" content="3"></noscript>
        <script>\(Self.script)</script>
        """
        return HTML.page(title: "\(place.workspace.name) · \(title) — Slack emulator", body: body)
    }

    private func sidebar(_ place: Place, world: World) async -> String {
        var out = ""
        for workspace in world.workspaces {
            let installed = world.installation(teamID: workspace.id) != nil
            let current = workspace.id == place.workspace.id
            let user = current ? place.user : (workspace.admin ?? workspace.users[0])
            out += "<div class=\"ws\(current ? " current" : "")\" id=\"ws-\(workspace.id)\"><h3>\(HTML.escape(workspace.name))"
            out += installed ? "<span class=\"badge\">app installed</span>" : "<span class=\"badge off\">not installed</span>"
            out += "</h3>"
            for channel in workspace.channels where !channel.isIM || channel.imUser == user.id {
                let link = HTML.url("/chat", [("team", workspace.id), ("channel", channel.id), ("as", user.id)])
                let here = current && channel.id == place.channel.id
                let label = channel.isIM ? "✉ EnableBot" : "# " + channel.name
                out += "<a href=\"\(HTML.escape(link))\" id=\"link-\(channel.id)\"\(here ? " class=\"here\"" : "")>\(HTML.escape(label))</a>"
            }
            out += "</div>"
        }
        var people = ""
        for user in place.workspace.people {
            people += "<option value=\"\(user.id)\"\(user.id == place.user.id ? " selected" : "")>\(HTML.escape(user.realName))"
                + (user.isAdmin ? " (admin)" : "") + "</option>"
        }
        let verified = await state.requestURLVerified
        let status = await state.requestURLStatus
        let deliveries = await state.deliveries.filter { $0.teamID == place.workspace.id }.suffix(6).reversed()
        let recent = deliveries.map { "<li>\(HTML.escape($0.kind))\($0.attempt > 0 ? " (retry \($0.attempt))" : ""): \(HTML.escape($0.outcome))</li>" }
        out += """
        <form method="get" action="/chat" class="side">\(HTML.hidden([("team", place.workspace.id), ("channel", place.channel.id)]))
        <label for="as">Write as</label> <select id="as" name="as">\(people)</select> <button type="submit">Switch</button></form>
        <div class="side" id="request-urls">Events → \(HTML.escape(configuration.eventsURL))<br>Commands → \(HTML.escape(configuration.commandsURL))<br>
        Request URL: \(verified ? "✓ " : "✗ ")\(HTML.escape(status))
        <form method="post" action="/chat/verify">\(HTML.hidden(place.query))<button type="submit">Verify again</button></form>
        <div>Deliveries in \(HTML.escape(place.workspace.name)):</div><ul id="deliveries">\(recent.joined())</ul>
        <form method="post" action="/chat/clear">\(HTML.hidden(place.query))<button type="submit">Clear conversation</button></form>
        \(world.installation(teamID: place.workspace.id) != nil ? "<form method=\"post\" action=\"/chat/uninstall\">\(HTML.hidden(place.query))<button type=\"submit\">Uninstall the app</button></form>" : "")
        </div>
        """
        return out
    }

    /// The conversation as `place.user` sees it: others' ephemeral messages left out, replies under their thread.
    func messagesHTML(_ place: Place) async -> String {
        let world = await state.world
        let visible = world.messages.filter {
            $0.teamID == place.workspace.id && $0.channel == place.channel.id && ($0.ephemeralTo == nil || $0.ephemeralTo == place.user.id)
        }
        let roots = Set(visible.filter { !$0.isReply }.map(\.ts))
        var out = ""
        for message in visible where !message.isReply || !roots.contains(message.threadTS ?? "") {
            out += messageHTML(message, place)
            let replies = visible.filter { $0.isReply && $0.threadTS == message.ts }
            let thread = world.threads[World.threadKey(team: place.workspace.id, channel: place.channel.id, threadTS: message.ts)]
            guard !replies.isEmpty || thread != nil || !message.isBot else { continue }
            out += "<div class=\"thread\" id=\"thread-\(HTML.escape(message.ts))\">"
            if let title = thread?.title { out += "<div class=\"title\">\(HTML.escape(title))</div>" }
            for reply in replies { out += messageHTML(reply, place) }
            if let status = thread?.status, !status.isEmpty {
                out += "<div class=\"status\">EnableBot \(HTML.escape(status))</div>"
            }
            if let thread, !thread.prompts.isEmpty {
                out += "<div class=\"prompts\">\(HTML.escape(thread.promptsTitle ?? "Try asking:"))"
                for prompt in thread.prompts {
                    out += "<form method=\"post\" action=\"/chat/send\" style=\"display:inline\">"
                        + HTML.hidden(place.query + [("thread_ts", message.ts), ("text", prompt.message)])
                        + "<button type=\"submit\">\(HTML.escape(prompt.title))</button></form>"
                }
                out += "</div>"
            }
            out += "<details><summary>Reply in thread</summary><form method=\"post\" action=\"/chat/send\">"
                + HTML.hidden(place.query + [("thread_ts", message.ts)])
                + "<input type=\"text\" name=\"text\" autocomplete=\"off\" placeholder=\"Reply…\"><button type=\"submit\">Reply</button></form></details>"
            out += "</div>"
        }
        if out.isEmpty { out = "<p class=\"muted\" id=\"empty\">No messages yet.</p>" }
        return out
    }

    private func messageHTML(_ message: EmulatedMessage, _ place: Place) -> String {
        let author: String
        if message.user == "USLACKBOT" {
            author = "Slackbot"
        } else {
            author = place.workspace.user(message.user)?.realName ?? message.user
        }
        var classes = ["msg", message.isBot ? "bot" : "person"]
        if message.ephemeralTo != nil { classes.append("ephemeral") }
        if message.streaming { classes.append("streaming") }
        let time = Double(message.ts).map { Date(timeIntervalSince1970: $0) }.map(Self.timeFormatter.string(from:)) ?? ""
        var meta = "<b>\(HTML.escape(author))</b>"
        if message.isBot, message.user != "USLACKBOT" { meta += "<span class=\"app\">APP</span>" }
        meta += "<time>\(time)</time>"
        if message.edited { meta += " <span class=\"muted\">(edited)</span>" }
        if message.ephemeralTo != nil { meta += "<span class=\"only\">Only visible to you</span>" }
        return "<div class=\"\(classes.joined(separator: " "))\" id=\"m-\(HTML.escape(message.ts))\" data-ts=\"\(HTML.escape(message.ts))\">"
            + "<div class=\"meta\">\(meta)</div><div class=\"text\">\(SlackText.html(message.text, workspace: place.workspace))</div></div>"
    }

    private static let timeFormatter: DateFormatter = {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return formatter
    }()

    /// Long-polls for changes and swaps the conversation in; keeps the view at the bottom if it was there.
    static let script = """
    (function(){var box=document.getElementById('messages');if(!box||!window.fetch)return;var v=box.dataset.version;
    box.scrollTop=box.scrollHeight;
    function poll(){fetch(box.dataset.src+'&after='+v).then(function(r){if(r.status!==200)return;
    v=r.headers.get('X-Emulator-Version')||v;return r.text().then(function(t){
    var open=[];box.querySelectorAll('details[open]').forEach(function(d){open.push(d.parentNode.id)});
    var bottom=box.scrollHeight-box.scrollTop-box.clientHeight<40;box.innerHTML=t;box.dataset.version=v;
    open.forEach(function(id){var d=document.getElementById(id);if(d){d=d.querySelector('details');if(d)d.open=true}});
    if(bottom)box.scrollTop=box.scrollHeight;});}).then(function(){setTimeout(poll,30)},function(){setTimeout(poll,2000)});}
    poll();})();
    """
}
