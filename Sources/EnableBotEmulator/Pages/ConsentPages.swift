import Foundation
import Hummingbird

/// Slack's two browser pages: the install consent screen (`/oauth/v2/authorize`) and "Sign in with Slack"
/// (`/openid/connect/authorize`). Instead of a Slack login, the person picks who they are from the emulated
/// workspaces; "Allow" sends them back to `redirect_uri` with a code and the app's `state`, "Cancel" with
/// `error=access_denied`.
struct ConsentPages {
    enum Flow: String {
        case install
        case signIn = "sign-in"

        var path: String { self == .install ? "/oauth/v2/authorize" : "/openid/connect/authorize" }
    }

    let state: EmulatorState
    let clientID: String

    static let scopeDescriptions: [String: String] = [
        "app_mentions:read": "View messages that directly mention @EnableBot in conversations it is in",
        "assistant:write": "Act as an App Agent (assistant threads: status, title, suggested prompts)",
        "chat:write": "Send messages as @EnableBot",
        "commands": "Add shortcuts and slash commands (/ask) people can use",
        "im:history": "View messages in direct messages with @EnableBot",
        "im:read": "View basic information about direct messages with @EnableBot",
        "im:write": "Start direct messages with people",
        "users:read": "View people in the workspace (to see who is an admin)",
        "openid": "Confirm your identity",
        "profile": "View your name and workspace",
        "email": "View your email address",
    ]

    func page(_ flow: Flow, query: [String: String]) async -> Response {
        if let problem = problem(query) { return HTML.page(title: "Slack emulator", body: errorCard(problem), status: .badRequest) }
        let scopes = (query["scope"] ?? "").split(separator: flow == .install ? "," : " ").map {
            String($0).trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        let world = await state.world
        var options = ""
        for workspace in world.workspaces {
            options += "<optgroup label=\"\(HTML.escape(workspace.name))\">"
            for user in workspace.people {
                let value = "\(workspace.id)/\(user.id)"
                options += "<option value=\"\(value)\">\(HTML.escape(user.realName)) · \(HTML.escape(workspace.name))"
                    + (user.isAdmin ? " (workspace admin)" : "") + "</option>"
            }
            options += "</optgroup>"
        }
        let scopeList = scopes.map { scope in
            "<li><code>\(HTML.escape(scope))</code> \(HTML.escape(Self.scopeDescriptions[scope] ?? ""))</li>"
        }.joined()
        let heading = flow == .install
            ? "EnableBot is requesting permission to access a Slack workspace"
            : "Sign in to EnableBot with Slack"
        let what = flow == .install ? "What will EnableBot be able to view and do?" : "EnableBot will be able to:"
        let fields: [(String, String)] = ["client_id", "scope", "user_scope", "redirect_uri", "state", "nonce"].compactMap { name in
            query[name].map { (name, $0) }
        }
        let body = """
        <div class="banner"><b>Slack emulator</b> — a stand-in for slack.com that ships with EnableBot (development only)</div>
        <div class="card">
        <h1 id="consent-title">\(heading)</h1>
        <form method="post" action="\(flow.path)">
        \(HTML.hidden(fields))
        <label for="who">You are signed in as</label>
        <select id="who" name="who">\(options)</select>
        <h2>\(what)</h2>
        <ul class="scopes" id="scopes">\(scopeList)</ul>
        <p class="muted">Redirects to \(HTML.escape(query["redirect_uri"] ?? ""))</p>
        <div class="actions">
        <button type="submit" name="decision" value="cancel" id="cancel">Cancel</button>
        <button type="submit" name="decision" value="allow" id="allow" class="primary">Allow</button>
        </div>
        </form>
        </div>
        """
        return HTML.page(title: heading, body: body)
    }

    func decide(_ flow: Flow, form: [String: String]) async -> Response {
        if let problem = problem(form) { return HTML.page(title: "Slack emulator", body: errorCard(problem), status: .badRequest) }
        let redirect = form["redirect_uri"] ?? ""
        var params: [(String, String)] = []
        if form["decision"] == "allow" {
            let who = (form["who"] ?? "").split(separator: "/").map(String.init)
            guard who.count == 2, let workspace = await state.world.workspace(who[0]), workspace.user(who[1]) != nil else {
                return HTML.page(title: "Slack emulator", body: errorCard("Pick who you are."), status: .badRequest)
            }
            let grant = EmulatorState.Grant(
                teamID: workspace.id, userID: who[1], scopes: form["scope"] ?? "", redirectURI: redirect, issued: Date()
            )
            let code = flow == .install ? await state.issueInstallCode(grant) : await state.issueSignInCode(grant)
            params.append(("code", code))
        } else {
            params.append(("error", "access_denied"))
        }
        if let returned = form["state"] { params.append(("state", returned)) }
        return HTML.redirect(HTML.url(redirect, params))
    }

    private func problem(_ query: [String: String]) -> String? {
        guard query["client_id"] == clientID else {
            return "Invalid client_id parameter. The emulator's app is \(clientID) (the services use it when SLACK_CLIENT_ID is unset)."
        }
        guard let redirect = query["redirect_uri"], redirect.hasPrefix("http://") || redirect.hasPrefix("https://") else {
            return "redirect_uri did not match any configured URIs."
        }
        return nil
    }

    private func errorCard(_ problem: String) -> String {
        "<div class=\"banner\"><b>Slack emulator</b></div><div class=\"card\"><h1>Something's not quite right</h1><p>\(HTML.escape(problem))</p></div>"
    }
}
