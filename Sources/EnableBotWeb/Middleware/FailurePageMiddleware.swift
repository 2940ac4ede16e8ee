import EnableBotCore
import Hummingbird

/// Renders every error a route throws as a page (or, without a session, a redirect to /login), in one place.
struct FailurePageMiddleware: RouterMiddleware {
    typealias Context = WebRequestContext
    let environment: WebEnvironment

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch is SignInRequired {
            return .redirect(to: "/login")
        } catch {
            let reference = SecureRandom.token(byteCount: 6)
            let page = FailurePage(error)
            if page.status.code >= 500 {
                environment.logger.error("request failed", metadata: [
                    "path": "\(request.uri.path)", "status": "\(page.status.code)", "reference": "\(reference)", "error": "\(error)",
                ])
            }
            let session = try? await environment.session(request)
            return environment.renderer.failure(
                error, session: session, csrf: session.map(environment.signer.csrfToken(for:)), reference: reference
            )
        }
    }
}
