import EnableBotCore
import Hummingbird

/// The one place errors become pages: status, heading, message and the next step.
struct FailurePage {
    var status: HTTPResponse.Status
    var heading: String
    var message: String
    var actionURL: String?
    var actionLabel: String?
    var retryAfter: Int?

    init(_ error: any Error) {
        switch error {
        case let error as OAuthError: self = Self.page(for: error)
        case let error as DashboardError: self = Self.page(for: error)
        case let error as any HTTPResponseError where error.status == .notFound:
            self.init(.notFound, "Page not found", "There is nothing at this address.", action: ("/dashboard", "Go to the dashboard"))
        case let error as any HTTPResponseError where error.status.code < 500:
            self.init(error.status, "Request refused", "The request could not be handled (\(error.status.reasonPhrase)).")
        default:
            self.init(.internalServerError, "Something went wrong",
                      "EnableBot hit an unexpected error. Nothing was changed; please try again in a moment.")
        }
    }

    init(_ status: HTTPResponse.Status, _ heading: String, _ message: String, action: (String, String)? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.heading = heading
        self.message = message
        self.actionURL = action?.0
        self.actionLabel = action?.1
        self.retryAfter = retryAfter
    }

    private static func page(for error: OAuthError) -> FailurePage {
        let restart = error.flow == .install ? ("/slack/install", "Start the installation again") : ("/auth/slack", "Sign in again")
        let what = error.flow == .install ? "installation" : "sign-in"
        switch error {
        case .cancelled(.install):
            return .init(.forbidden, "Installation cancelled",
                         "You cancelled the installation in Slack, so nothing was installed. You can start again whenever you like.",
                         action: restart)
        case .cancelled(.signIn):
            return .init(.forbidden, "Sign-in cancelled", "You cancelled signing in with Slack.", action: restart)
        case .slackRedirectError(_, let code):
            return .init(.badRequest, "Slack did not complete the \(what)",
                         "Slack sent you back with the error “\(code)”. Nothing was stored.", action: restart)
        case .missingCodeOrState:
            return .init(.badRequest, "Incomplete \(what) link",
                         "This page needs the code and state Slack adds when it sends you back. Please start again.", action: restart)
        case .missingStateCookie:
            return .init(.badRequest, "Start again in this browser",
                         "This \(what) was started in another browser, or your browser did not keep our cookie. "
                             + "For your safety it has to finish in the browser that started it.", action: restart)
        case .stateCookieMismatch:
            return .init(.forbidden, "This link does not belong to this browser",
                         "The \(what) link does not match the one this browser started, so it was refused. Nothing was stored.",
                         action: restart)
        case .stateUnknown:
            return .init(.badRequest, "Unknown \(what) link",
                         "We don't recognise this \(what) link. Please start again.", action: restart)
        case .stateExpired:
            return .init(.badRequest, "This \(what) link has expired",
                         "Links are valid for 10 minutes. Nothing was stored; please start again.", action: restart)
        case .stateReused:
            return .init(.conflict, "This \(what) link was already used",
                         "Each link works once. If you reloaded the page, the \(what) may already have finished.", action: restart)
        case .slackRefused(_, let method, let code):
            return .init(.badGateway, "Slack refused the \(what)",
                         "Slack answered “\(code)” to \(method). Nothing was stored; please start again. "
                             + "If it keeps happening, the app's client id, secret or redirect URL may be misconfigured.",
                         action: restart)
        case .slackUnreachable:
            return .init(.serviceUnavailable, "Slack could not be reached",
                         "EnableBot could not talk to Slack just now. Nothing was stored; please try again in a minute.",
                         action: restart)
        case .noBotToken:
            return .init(.badGateway, "No bot token",
                         "Slack completed the installation without a bot token, so EnableBot cannot answer. "
                             + "The app must ask for bot scopes. Nothing was stored.", action: restart)
        case .workspaceNotInstalled:
            return .init(.notFound, "EnableBot is not installed in your workspace",
                         "Install EnableBot first; its admins can then manage it here.", action: ("/slack/install", "Install EnableBot"))
        case .notWorkspaceAdmin:
            return .init(.forbidden, "Only workspace admins can manage EnableBot",
                         "You are signed in to Slack, but you are neither an admin of this workspace nor the person who installed EnableBot.")
        case .notOrgAdmin:
            return .init(.forbidden, "Only admins can manage EnableBot",
                         "EnableBot is installed for your whole organization, so only the organization's admins and owners, "
                             + "or the person who installed it, can manage it. An admin of one workspace cannot.")
        }
    }

    private static func page(for error: DashboardError) -> FailurePage {
        switch error {
        case .forbidden:
            .init(.forbidden, "Not yours to see", "You can only see and manage your own workspace.", action: ("/dashboard", "Go to the dashboard"))
        case .notFound:
            .init(.notFound, "Not found", "There is no such workspace.", action: ("/dashboard", "Go to the dashboard"))
        case .csrfInvalid:
            .init(.forbidden, "Form expired",
                  "This form was not sent from a current page of your session, so nothing was changed. Reload the page and try again.",
                  action: ("/dashboard", "Go to the dashboard"))
        case .tooManyLoginAttempts(let retryAfter):
            .init(.tooManyRequests, "Too many sign-in attempts",
                  "Please wait \(retryAfter) seconds before trying again.", action: ("/login", "Back to sign-in"), retryAfter: retryAfter)
        case .tooManyRequests(let retryAfter):
            .init(.tooManyRequests, "Too many requests",
                  "Too many installations or sign-ins were started from your address. Please wait \(retryAfter) seconds and try again.",
                  retryAfter: retryAfter)
        case .badRequest(let reason):
            .init(.badRequest, "Request refused", reason, action: ("/dashboard", "Go to the dashboard"))
        case .refused(let reason):
            .init(.forbidden, "Not allowed", reason, action: ("/dashboard", "Go to the dashboard"))
        }
    }
}
