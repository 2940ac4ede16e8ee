import EnableBotCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Everything the web routes share, built once per process.
struct WebEnvironment: Sendable {
    let settings: Settings
    let logger: Logger
    let stores: Stores
    let health: HealthCheck
    /// "sqlite" or "postgres", for the system page.
    let databaseKind: String
    let renderer: PageRenderer
    let signer: SessionSigner
    let slack: SlackWebClient
    let throttle: WebThrottle
    let clients: ClientAddressResolver
    let adminCheck: AdminCheck
    let passwordCheck: PasswordCheck
    let now: @Sendable () -> Date
    let sessionLifetime: TimeInterval

    var sessions: DashboardSessions { stores.dashboardSessions }

    /// Cookies carry `Secure` whenever the service is reached over https (its redirect URI says so).
    var secureCookies: Bool { settings.slackRedirectURI.lowercased().hasPrefix("https://") }

    /// The client's address: the peer, or what a trusted proxy says in `X-Forwarded-For`.
    func clientAddress(_ request: Request, _ context: WebRequestContext) -> String {
        clients.clientAddress(peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: forwardedFor])
    }

    /// The signed-in session, or nil. Besides the cookie's signature and expiry, the server has the last word:
    /// a session signed out, or issued before its principal's "sign out everywhere", is refused, and a workspace
    /// admin whose admin status Slack no longer confirms (asked at most every 15 minutes) loses it.
    func session(_ request: Request) async throws -> WebSession? {
        guard let value = request.cookies[CookieName.session]?.value, let session = signer.decode(value, now: now()) else {
            return nil
        }
        guard let principal = try await sessions.principal(session.principal), principal.sessionVersion == session.version,
              try await !sessions.isRevoked(sessionID: session.id)
        else { return nil }
        if session.role == .workspaceAdmin {
            let due = principal.adminCheckedAt.map { now().timeIntervalSince($0) >= AdminCheck.recheckInterval } ?? true
            if due {
                guard try await stillAdmin(session) else { return nil }
            }
        }
        return session
    }

    /// Asks Slack again whether a workspace admin may still manage their tenant; ends all their sessions if not.
    private func stillAdmin(_ session: WebSession) async throws -> Bool {
        guard let tenantID = session.tenantID, let userID = session.userID else { return false }
        let allowed: Bool
        if let installation = try await stores.installations.find(tenantID: tenantID) {
            allowed = try await adminCheck.mayManage(installation, userID: userID)
        } else {
            allowed = false
        }
        if allowed {
            try await sessions.markAdminChecked(principal: session.principal)
        } else {
            try await sessions.endAll(principal: session.principal)
            await audit(tenantID: tenantID, actor: session.actor, action: "sign_out", detail: "no longer an admin per Slack; sessions ended")
            logger.info("dashboard access ended: no longer an admin", metadata: ["tenant_id": "\(tenantID)", "user_id": "\(userID)"])
        }
        return allowed
    }


    /// Starts a session for `principal` at its current version.
    func startSession(_ make: (Int) -> WebSession, tenantID: String?, adminChecked: Bool) async throws -> WebSession {
        let probe = make(0)
        let principal = try await sessions.signIn(
            principal: probe.principal, tenantID: tenantID, adminCheckedAt: adminChecked ? now() : nil
        )
        return make(principal.sessionVersion)
    }

    func chrome(_ title: String, _ session: WebSession?) -> PageChrome {
        PageChrome(title: title, session: session, csrf: session.map(signer.csrfToken(for:)))
    }

    /// Reads an `application/x-www-form-urlencoded` body with Hummingbird's decoder: a form that does not decode
    /// (a repeated or nested field, broken percent-encoding) is a 400, never a 500.
    func readForm(_ request: Request) async throws -> [String: String] {
        var request = request
        let body = try await request.collectBody(upTo: settings.maxBodyBytes)
        do {
            return try URLEncodedFormDecoder().decode([String: String].self, from: String(buffer: body))
        } catch {
            throw DashboardError.badRequest("The form could not be read. Reload the page and try again.")
        }
    }

    /// Reads a form posted within the signed-in session of `context` and checks its CSRF token.
    func readForm(_ request: Request, context: WebRequestContext) async throws -> [String: String] {
        let session = try context.requireSession()
        let form = try await readForm(request)
        try checkCSRF(form, session: session)
        return form
    }

    private func checkCSRF(_ form: [String: String], session: WebSession) throws {
        guard signer.verify(csrf: form["csrf_token"], expected: signer.csrfToken(for: session)) else {
            throw DashboardError.csrfInvalid
        }
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
            try await stores.auditLog.record(tenantID: tenantID, actor: actor, action: action, detail: detail)
        } catch {
            logger.error("could not write audit entry", metadata: ["action": "\(action)", "tenant_id": "\(tenantID ?? "")", "error": "\(error)"])
        }
    }
}

private let forwardedFor = HTTPField.Name("X-Forwarded-For")!

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

extension WebEnvironment {
    /// A refusal of something the signed-in person asked for on their own workspace: audited, then a 403 page
    /// that says why.
    func refuse(_ reason: String, tenantID: String, session: WebSession) async -> DashboardError {
        await audit(tenantID: tenantID, actor: session.actor, action: "refused", detail: reason)
        logger.info("dashboard action refused", metadata: ["tenant_id": "\(tenantID)", "user_id": "\(session.userID ?? "operator")", "status": "403"])
        return .refused(reason)
    }
}

extension Response {
    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }
}

/// `a=1&b=x%20y` for a URL's query, by Hummingbird's form encoder.
func formQuery(_ params: [String: String]) -> String {
    (try? URLEncodedFormEncoder().encode(params)) ?? ""
}
