import EnableBotCore
import Foundation
import Hummingbird
import Logging

/// `GET /slack/install` and `GET /slack/oauth/callback`: Slack's OAuth v2 install flow.
struct InstallRoutes {
    let environment: WebEnvironment
    static let statePurpose = "install"
    static let cookiePath = "/slack"

    func add(to router: Router<WebRequestContext>) {
        router.get("/slack/install") { request, context in try await installPage(request, context) }
        router.group("slack/oauth/callback")
            .add(middleware: OAuthCallbackMiddleware(
                environment: environment, stateCookie: CookieName.installState, cookiePath: Self.cookiePath,
                failureMessage: "install failed"
            ))
            .get { request, _ in
                environment.renderer.render("installed", try await completeInstall(request), chrome: PageChrome(title: "EnableBot is installed"))
            }
    }

    func installPage(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        if let retryAfter = await environment.throttle.admit(.oauthStart, client: environment.clientAddress(request, context)) {
            throw DashboardError.tooManyRequests(retryAfter: retryAfter)
        }
        let settings = environment.settings
        let state = try await environment.stores.oauthStates.issue(purpose: Self.statePurpose)
        var params = [
            "client_id": settings.slackClientID, "scope": settings.slackScopes, "redirect_uri": settings.slackRedirectURI,
            "state": state,
        ]
        if !settings.slackUserScopes.isEmpty { params["user_scope"] = settings.slackUserScopes }
        let url = settings.slackAuthorizeURL + (settings.slackAuthorizeURL.contains("?") ? "&" : "?") + formQuery(params)
        var response = environment.renderer.render("install", [
            "authorizeURL": url,
            "scopes": ScopeDescriptions.list(settings.slackScopes),
            "userScopes": ScopeDescriptions.list(settings.slackUserScopes),
        ], chrome: PageChrome(title: "Add EnableBot to Slack"))
        response.setCookie(environment.cookie(CookieName.installState, value: state, maxAge: Int(OAuthStateStore.lifetime), path: Self.cookiePath))
        return response
    }

    private func completeInstall(_ request: Request) async throws -> [String: Any] {
        let settings = environment.settings
        let check = OAuthStateCheck(states: environment.stores.oauthStates, purpose: Self.statePurpose, flow: .install)
        let code = try await check.claim(query: request.queryDictionary, cookie: request.cookies[CookieName.installState]?.value)

        let access: SlackOAuthV2Access
        do {
            access = try await environment.slack.oauthV2Access(
                code: code, redirectURI: settings.slackRedirectURI,
                clientID: settings.slackClientID, clientSecret: settings.slackClientSecret
            )
        } catch {
            throw OAuthStateCheck.slackFailure(error, flow: .install)
        }
        guard let botToken = access.accessToken, !botToken.isEmpty, access.tokenType ?? "bot" == "bot" else {
            throw OAuthError.noBotToken
        }
        let orgWide = access.isEnterpriseInstall ?? false
        guard let tenantID = Installation.tenantID(teamID: access.team?.id, enterpriseID: access.enterprise?.id, isEnterpriseInstall: orgWide)
        else { throw OAuthError.slackRefused(.install, method: "oauth.v2.access", code: "missing_team") }

        let identity: SlackAuthTest
        do {
            identity = try await environment.slack.authTest(token: botToken)
        } catch {
            throw OAuthStateCheck.slackFailure(error, flow: .install)
        }

        let now = environment.now()
        let existing = try await environment.stores.installations.find(tenantID: tenantID)
        let teamName = (orgWide ? access.enterprise?.name : access.team?.name) ?? access.team?.name ?? tenantID
        let installer = access.authedUser?.id ?? ""
        let installation = Installation(
            tenantID: tenantID, teamID: access.team?.id, enterpriseID: access.enterprise?.id, isEnterpriseInstall: orgWide,
            teamName: teamName, appID: access.appID ?? "", botUserID: access.botUserID ?? "", botID: identity.botID ?? "",
            scopes: access.scope ?? "", userScopes: access.authedUser?.scope ?? "", installerUserID: installer,
            installedAt: now, updatedAt: now
        )
        let userToken = access.authedUser?.tokenType == nil || access.authedUser?.tokenType == "user" ? access.authedUser?.accessToken : nil
        let tokens = InstallationTokens(
            botToken: botToken, userToken: userToken, refreshToken: access.refreshToken,
            expiresAt: access.expiresIn.map { now.addingTimeInterval(TimeInterval($0)) }
        )
        try await environment.stores.installations.save(installation, tokens: tokens)
        var detail = "\(teamName); scopes \(installation.scopes)"
        if orgWide { detail += "; org-wide" }
        if tokens.refreshToken != nil { detail += "; rotating tokens" }
        let suspended = existing?.status == .suspended
        if suspended { detail += "; stays suspended by the operator" }
        await environment.audit(
            tenantID: tenantID, actor: installer.isEmpty ? "slack" : "slack:\(installer)",
            action: existing == nil ? "install" : "reinstall", detail: detail
        )
        environment.logger.info("installed", metadata: ["tenant_id": "\(tenantID)", "user_id": "\(installer)", "reinstall": "\(existing != nil)"])

        let slackTeam = access.team?.id ?? access.enterprise?.id ?? tenantID
        return [
            "teamName": teamName, "orgWide": orgWide, "reinstall": existing != nil, "suspended": suspended,
            "slackURL": "slack://app?" + formQuery(["team": slackTeam, "id": access.appID ?? ""]),
        ]
    }
}

/// What each scope lets EnableBot do, in words for the install page.
enum ScopeDescriptions {
    static let known: [String: String] = [
        "app_mentions:read": "see messages that mention @EnableBot",
        "assistant:write": "answer in Slack's assistant pane (the split view for AI apps) and show that it is thinking",
        "chat:write": "post its answers in channels and threads",
        "im:history": "read the direct messages you send it",
        "im:read": "see its direct-message conversations",
        "im:write": "open a direct message with you",
        "commands": "add the /ask command",
        "users:read": "check who is a workspace admin, so only admins manage it",
        "channels:history": "read messages in public channels it is in",
        "groups:history": "read messages in private channels it is in",
    ]

    static func list(_ scopes: String) -> [[String: String]] {
        scopes.split(separator: ",").map { raw in
            let name = raw.trimmingCharacters(in: .whitespaces)
            return ["name": name, "description": known[name] ?? ""]
        }.filter { !($0["name"] ?? "").isEmpty }
    }
}
