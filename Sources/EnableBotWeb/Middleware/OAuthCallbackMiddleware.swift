import EnableBotCore
import Hummingbird
import Logging

/// Wraps both OAuth callbacks (install and Slack sign-in): a failure becomes its page with a 4xx/5xx status and one
/// log line with a log-safe reason, and whatever happens the flow's state cookie is cleared, since a state is good
/// for one attempt.
struct OAuthCallbackMiddleware: RouterMiddleware {
    typealias Context = WebRequestContext
    let environment: WebEnvironment
    let stateCookie: String
    let cookiePath: String
    /// "install failed" / "sign-in failed".
    let failureMessage: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let reference = SecureRandom.token(byteCount: 6)
            let status = FailurePage(error).status.code
            environment.logger.log(level: status >= 500 ? .error : .info, "\(failureMessage)", metadata: [
                "reason": "\(Self.reason(error))", "status": "\(status)", "reference": "\(reference)",
            ])
            response = environment.renderer.failure(error, reference: reference)
        }
        response.setCookie(environment.clearedCookie(stateCookie, path: cookiePath))
        return response
    }

    /// A log-safe reason: the error's case, never a token or Slack's raw answer.
    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as OAuthError: "\(error)"
        default: String(describing: type(of: error))
        }
    }
}
