import Hummingbird

/// Thrown where a session is needed and there is none: `FailurePageMiddleware` turns it into a redirect to /login.
struct SignInRequired: Error {}

/// Puts the signed-in session into the request context of every route in its group (`/dashboard`, `/logout`), or
/// sends the browser to /login. What counts as signed in is `WebEnvironment.session(_:)`.
struct SessionMiddleware: RouterMiddleware {
    typealias Context = WebRequestContext
    let environment: WebEnvironment

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let session = try await environment.session(request) else { throw SignInRequired() }
        var context = context
        context.session = session
        return try await next(request, context)
    }
}
