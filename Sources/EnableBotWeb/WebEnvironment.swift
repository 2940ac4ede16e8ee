import EnableBotCore
import Foundation
import Hummingbird
import Logging

/// Everything the web routes share, built once per process.
struct WebEnvironment: Sendable {
    let runtime: CoreRuntime
    let renderer: PageRenderer
    let signer: SessionSigner
    let slack: SlackWebClient
    let loginLimiter: LoginRateLimiter
    let passwordCheck: PasswordCheck
    let now: @Sendable () -> Date
    let sessionLifetime: TimeInterval

    var settings: Settings { runtime.settings }
    var logger: Logger { runtime.logger }

    /// Cookies carry `Secure` whenever the service is reached over https (its redirect URI says so).
    var secureCookies: Bool { settings.slackRedirectURI.lowercased().hasPrefix("https://") }

    /// The signed-in session, or nil.
    func session(_ request: Request) -> WebSession? {
        guard let value = request.cookies[CookieName.session]?.value else { return nil }
        return signer.decode(value, now: now())
    }

    /// The signed-in session, or `SignInRequired` (a redirect to /login).
    func requireSession(_ request: Request) throws -> WebSession {
        guard let session = session(request) else { throw SignInRequired() }
        return session
    }

    func chrome(_ title: String, _ session: WebSession?) -> PageChrome {
        PageChrome(title: title, session: session, csrf: session.map(signer.csrfToken(for:)))
    }

    /// Reads a form posted within `session` and checks its CSRF token.
    func readForm(_ request: Request, session: WebSession) async throws -> [String: String] {
        let form = try await WebForm.read(request, limit: settings.maxBodyBytes)
        guard signer.verify(csrf: form["csrf_token"], expected: signer.csrfToken(for: session)) else {
            throw DashboardError.csrfInvalid
        }
        return form
    }

    func cookie(_ name: String, value: String, maxAge: Int, path: String) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: path, secure: secureCookies, httpOnly: true, sameSite: .lax)
    }

    /// An expired cookie that deletes `name` (same path, so the browser matches it).
    func clearedCookie(_ name: String, path: String) -> Cookie {
        Cookie(name: name, value: "", expires: Date(timeIntervalSince1970: 0), maxAge: 0, path: path,
               secure: secureCookies, httpOnly: true, sameSite: .lax)
    }

    func sessionCookie(_ session: WebSession) -> Cookie {
        cookie(CookieName.session, value: signer.encode(session), maxAge: Int(sessionLifetime), path: "/")
    }

    /// An audit entry; a failure to write one is logged, not shown (the change itself already happened).
    func audit(tenantID: String?, actor: String, action: String, detail: String = "") async {
        do {
            try await runtime.auditLog.record(tenantID: tenantID, actor: actor, action: action, detail: detail)
        } catch {
            logger.error("could not write audit entry", metadata: ["action": "\(action)", "tenant_id": "\(tenantID ?? "")", "error": "\(error)"])
        }
    }
}

/// The operator password, kept only as an HMAC under a random per-process key, compared in constant time.
struct PasswordCheck: Sendable {
    private let key = SecureRandom.bytes(32)
    private let digest: [UInt8]

    init(password: String) {
        digest = HMACSHA256.authenticate(key: key, message: Array(password.utf8))
    }

    func matches(_ attempt: String) -> Bool {
        constantTimeEquals(HMACSHA256.authenticate(key: key, message: Array(attempt.utf8)), digest)
    }
}

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
            let session = environment.session(request)
            return environment.renderer.failure(
                error, session: session, csrf: session.map(environment.signer.csrfToken(for:)), reference: reference
            )
        }
    }
}
