import EnableBotCore
import Foundation
import Hummingbird

/// The operator's login (`ADMIN_PASSWORD`) and everyone's logout.
struct LoginRoutes {
    let environment: WebEnvironment

    func add(to router: Router<WebRequestContext>) {
        router.get("/login") { request, _ in loginPage(request) }
        router.post("/login") { request, context in try await login(request, context: context) }
        router.post("/logout") { request, _ in try await logout(request) }
    }

    /// The form's CSRF token is bound to a random pre-login cookie, so another site cannot log a browser in.
    func loginPage(_ request: Request, error: String? = nil, status: HTTPStatus = .ok) -> Response {
        if error == nil, environment.session(request) != nil { return .redirect(to: "/dashboard") }
        let existing = request.cookies[CookieName.loginNonce]?.value
        let nonce = existing.flatMap { $0.count >= 22 ? $0 : nil } ?? SecureRandom.token(byteCount: 16)
        var values: [String: Any] = ["csrf": environment.signer.loginCSRFToken(nonce: nonce)]
        if let error { values["error"] = error }
        var response = environment.renderer.render("login", values, chrome: PageChrome(title: "Sign in"), status: status)
        response.setCookie(environment.cookie(CookieName.loginNonce, value: nonce, maxAge: 3600, path: "/login"))
        return response
    }

    func login(_ request: Request, context: WebRequestContext) async throws -> Response {
        if let retryAfter = await environment.loginLimiter.admit(context.clientAddress) {
            environment.logger.warning("operator login rate-limited", metadata: ["status": "429"])
            throw DashboardError.tooManyLoginAttempts(retryAfter: retryAfter)
        }
        let form = try await WebForm.read(request, limit: environment.settings.maxBodyBytes)
        guard let nonce = request.cookies[CookieName.loginNonce]?.value,
              environment.signer.verify(csrf: form["csrf_token"], expected: environment.signer.loginCSRFToken(nonce: nonce))
        else { throw DashboardError.csrfInvalid }
        guard let password = form["password"], environment.passwordCheck.matches(password) else {
            environment.logger.info("operator login failed", metadata: ["status": "401"])
            return loginPage(request, error: "That password is not right.", status: .unauthorized)
        }
        await environment.loginLimiter.reset(context.clientAddress)
        let session = WebSession.operator(expiresAt: environment.now().addingTimeInterval(environment.sessionLifetime))
        await environment.audit(tenantID: nil, actor: session.actor, action: "sign_in", detail: "operator password")
        var response = Response.redirect(to: "/dashboard")
        response.setCookie(environment.sessionCookie(session))
        response.setCookie(environment.clearedCookie(CookieName.loginNonce, path: "/login"))
        return response
    }

    func logout(_ request: Request) async throws -> Response {
        let session = try environment.requireSession(request)
        _ = try await environment.readForm(request, session: session)
        var response = Response.redirect(to: "/login")
        response.setCookie(environment.clearedCookie(CookieName.session, path: "/"))
        return response
    }
}
