/// Why an install or a Slack sign-in did not complete. Each case is a page a person can act on.
public enum OAuthError: Error, Equatable, Sendable {
    public enum Flow: Sendable { case install, signIn }

    /// The person pressed "Cancel" on Slack's screen (`error=access_denied`).
    case cancelled(Flow)
    /// Slack sent the browser back with another `error` parameter.
    case slackRedirectError(Flow, code: String)
    case missingCodeOrState(Flow)
    case missingStateCookie(Flow)
    case stateCookieMismatch(Flow)
    case stateUnknown(Flow)
    case stateExpired(Flow)
    case stateReused(Flow)
    /// Slack answered `ok:false` (or not 2xx) to one of our calls.
    case slackRefused(Flow, method: String, code: String)
    /// Slack could not be reached or did not answer in time.
    case slackUnreachable(Flow)
    /// oauth.v2.access succeeded without a bot token (the app has no bot scopes).
    case noBotToken
    /// Sign in with Slack: the workspace has not installed EnableBot.
    case workspaceNotInstalled
    /// Sign in with Slack: the person is neither an admin of the workspace nor its installer.
    case notWorkspaceAdmin
    /// Sign in with Slack to an org-wide installation: the person is neither an org admin/owner nor its installer.
    case notOrgAdmin

    var flow: Flow {
        switch self {
        case .cancelled(let flow), .slackRedirectError(let flow, _), .missingCodeOrState(let flow),
             .missingStateCookie(let flow), .stateCookieMismatch(let flow), .stateUnknown(let flow),
             .stateExpired(let flow), .stateReused(let flow), .slackRefused(let flow, _, _), .slackUnreachable(let flow):
            flow
        case .noBotToken: .install
        case .workspaceNotInstalled, .notWorkspaceAdmin, .notOrgAdmin: .signIn
        }
    }
}
