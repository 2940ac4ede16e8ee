import EnableBotCore
import Foundation
import Hummingbird

/// The operator's login (`ADMIN_PASSWORD`) and everyone's sign-out: of this session, or of every session.
struct LoginRoutes {
    let environment: WebEnvironment

    func add(to router: Router<WebRequestContext>) {
        router.get("/login") { request, _ in try await loginPage(request) }
        router.post("/login") { request, context in try await login(request, context: context) }
        let logout = router.group("logout").add(middleware: SessionMiddleware(environment: environment))
        logout.post { request, context in try await self.logout(request, context, everywhere: false) }
        logout.post("everywhere") { request, context in try await self.logout(request, context, everywhere: true) }
    }

    /// The form's CSRF token is bound to a random pre-login cookie, so another site cannot log a browser in.
    func loginPage(_ request: Request, error: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        if error == nil, try await environment.session(request) != nil { return .redirect(to: "/dashboard") }
        let existing = request.cookies[CookieName.loginNonce]?.value
        let nonce = existing.flatMap { $0.count >= 22 ? $0 : nil } ?? SecureRandom.token(byteCount: 16)
        var values: [String: Any] = ["csrf": environment.signer.loginCSRFToken(nonce: nonce)]
        if let error { values["error"] = error }
        var response = environment.renderer.render("login", values, chrome: PageChrome(title: "Sign in"), status: status)
        response.setCookie(environment.cookie(CookieName.loginNonce, value: nonce, maxAge: 3600, path: "/login"))
        return response
    }

    /// The CSRF token is checked before the attempt counts against the address's limit, so requests forged or sent
    /// blind by someone else cannot use up the operator's attempts.
    func login(_ request: Request, context: WebRequestContext) async throws -> Response {
        let form = try await environment.readForm(request)
        guard let nonce = request.cookies[CookieName.loginNonce]?.value,
              environment.signer.verify(csrf: form["csrf_token"], expected: environment.signer.loginCSRFToken(nonce: nonce))
        else { throw DashboardError.csrfInvalid }
        if let retryAfter = await environment.throttle.admit(.login, client: environment.clientAddress(request, context)) {
            environment.logger.warning("operator login rate-limited", metadata: ["status": "429"])
            throw DashboardError.tooManyLoginAttempts(retryAfter: retryAfter)
        }
        guard let password = form["password"], environment.passwordCheck.matches(password) else {
            environment.logger.info("operator login failed", metadata: ["status": "401"])
            return try await loginPage(request, error: "That password is not right.", status: .unauthorized)
        }
        let expiry = environment.now().addingTimeInterval(environment.sessionLifetime)
        let session = try await environment.startSession({ .operator(expiresAt: expiry, version: $0) }, tenantID: nil, adminChecked: false)
        await environment.audit(tenantID: nil, actor: session.actor, action: "sign_in", detail: "operator password")
        var response = Response.redirect(to: "/dashboard")
        response.setCookie(environment.sessionCookie(session))
        response.setCookie(environment.clearedCookie(CookieName.loginNonce, path: "/login"))
        return response
    }

    /// Ends this session on the server (a copy of the cookie no longer works), or, `everywhere`, every session of the
    /// same person on every device.
    func logout(_ request: Request, _ context: WebRequestContext, everywhere: Bool) async throws -> Response {
        let session = try context.requireSession()
        _ = try await environment.readForm(request, context: context)
        if everywhere {
            try await environment.sessions.endAll(principal: session.principal)
            await environment.audit(tenantID: session.tenantID, actor: session.actor, action: "sign_out", detail: "every session")
        } else {
            try await environment.sessions.revoke(sessionID: session.id, expiresAt: session.expiry)
        }
        var response = Response.redirect(to: "/login")
        response.setCookie(environment.clearedCookie(CookieName.session, path: "/"))
        return response
    }
}
