import EnableBotCore
import Foundation
import Hummingbird
import Logging

/// "Sign in with Slack" (OpenID Connect) for a workspace's own admins: `GET /auth/slack` and its callback.
/// The person must be the installer, or an admin or owner of the workspace per `users.info`.
struct SignInRoutes {
    let environment: WebEnvironment
    static let statePurpose = "signin"
    static let cookiePath = "/auth/slack"

    func add(to router: Router<WebRequestContext>) {
        router.get("/auth/slack") { request, context in try await start(request, context) }
        router.group("auth/slack/callback")
            .add(middleware: OAuthCallbackMiddleware(
                environment: environment, stateCookie: CookieName.signInState, cookiePath: Self.cookiePath,
                failureMessage: "sign-in failed"
            ))
            .get { request, _ in
                var response = Response.redirect(to: "/dashboard")
                response.setCookie(environment.sessionCookie(try await signIn(request)))
                return response
            }
    }

    func start(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        if let retryAfter = await environment.throttle.admit(.oauthStart, client: environment.clientAddress(request, context)) {
            throw DashboardError.tooManyRequests(retryAfter: retryAfter)
        }
        let settings = environment.settings
        let state = try await environment.stores.oauthStates.issue(purpose: Self.statePurpose)
        let params = [
            "response_type": "code", "scope": "openid profile", "client_id": settings.slackClientID,
            "state": state, "redirect_uri": settings.slackOIDCRedirectURI,
        ]
        let base = settings.slackOIDCAuthorizeURL
        var response = Response.redirect(to: base + (base.contains("?") ? "&" : "?") + formQuery(params))
        response.setCookie(environment.cookie(CookieName.signInState, value: state, maxAge: Int(OAuthStateStore.lifetime), path: Self.cookiePath))
        return response
    }

    private func signIn(_ request: Request) async throws -> WebSession {
        let settings = environment.settings
        let check = OAuthStateCheck(states: environment.stores.oauthStates, purpose: Self.statePurpose, flow: .signIn)
        let code = try await check.claim(query: request.queryDictionary, cookie: request.cookies[CookieName.signInState]?.value)
        let person: SlackOpenIDUserInfo
        do {
            let token = try await environment.slack.openIDConnectToken(
                code: code, redirectURI: settings.slackOIDCRedirectURI,
                clientID: settings.slackClientID, clientSecret: settings.slackClientSecret
            )
            person = try await environment.slack.openIDConnectUserInfo(accessToken: token.accessToken)
        } catch {
            throw OAuthStateCheck.slackFailure(error, flow: .signIn)
        }
        guard let installation = try await environment.stores.installations.authorize(
            teamID: person.teamID, enterpriseID: person.enterpriseID, isEnterpriseInstall: false
        ) else { throw OAuthError.workspaceNotInstalled }
        guard try await environment.adminCheck.mayManage(installation, userID: person.userID) else {
            throw installation.isEnterpriseInstall ? OAuthError.notOrgAdmin : OAuthError.notWorkspaceAdmin
        }
        let expiry = environment.now().addingTimeInterval(environment.sessionLifetime)
        let session = try await environment.startSession({ version in
            .workspaceAdmin(tenantID: installation.tenantID, userID: person.userID, name: person.name ?? person.userID,
                            expiresAt: expiry, version: version)
        }, tenantID: installation.tenantID, adminChecked: true)
        await environment.audit(tenantID: installation.tenantID, actor: session.actor, action: "sign_in", detail: "Sign in with Slack")
        return session
    }
}
