import EnableBotCore
import EnableBotHTTP
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// What `buildWebApplication` takes from outside, so tests can replace the network and the clock.
public struct WebDependencies: Sendable {
    /// Outbound HTTP to Slack. nil: a `CurlHTTPClient`, run as one of the application's services.
    public var http: (any HTTPClient)?
    /// The clock for sessions; nil: the runtime's clock (which the stores use for state expiry).
    public var now: (@Sendable () -> Date)?
    /// nil: the deployment's limiter (Redis when `REDIS_URL` is set, so throttling holds across replicas).
    public var rateLimiter: (any RateLimiter)?
    /// Operator login attempts admitted per client address in `loginWindow` seconds.
    public var loginAttempts: Int
    public var loginWindow: TimeInterval
    /// Installs and Slack sign-ins an address may start (each writes an OAuth state row).
    public var oauthStartLimit: RateLimitSpec
    /// How long a dashboard session lasts.
    public var sessionLifetime: TimeInterval
    /// How often expired OAuth states and session revocations are purged.
    public var housekeepingInterval: Duration

    public init(
        http: (any HTTPClient)? = nil, now: (@Sendable () -> Date)? = nil, rateLimiter: (any RateLimiter)? = nil,
        loginAttempts: Int = 5, loginWindow: TimeInterval = 300,
        oauthStartLimit: RateLimitSpec = RateLimitSpec(limit: 30, windowSeconds: 60),
        sessionLifetime: TimeInterval = 8 * 3600, housekeepingInterval: Duration = .seconds(600)
    ) {
        self.http = http
        self.now = now
        self.rateLimiter = rateLimiter
        self.loginAttempts = loginAttempts
        self.loginWindow = loginWindow
        self.oauthStartLimit = oauthStartLimit
        self.sessionLifetime = sessionLifetime
        self.housekeepingInterval = housekeepingInterval
    }
}

/// Builds `enablebot-web`: OAuth installs, the dashboard, health and metrics.
public func buildWebApplication(runtime: CoreRuntime) async throws -> some ApplicationProtocol {
    try await buildWebApplication(runtime: runtime, dependencies: WebDependencies())
}

/// Builds `enablebot-web` with injected dependencies.
public func buildWebApplication(
    runtime: CoreRuntime, dependencies: WebDependencies,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    let router = try await buildWebRouter(runtime: runtime, dependencies: dependencies)
    var services: [any Service] = [WebHousekeeping(runtime: runtime, interval: dependencies.housekeepingInterval)]
    if dependencies.http == nil, let curl = router.curl { services.append(curl) }
    return Application(
        router: router.router,
        configuration: .init(address: .hostname(runtime.settings.host, port: runtime.settings.port), serverName: "enablebot-web"),
        services: services,
        onServerRunning: onServerRunning,
        logger: runtime.logger
    )
}

/// The router alone (and the curl client it needs running, when none was injected).
func buildWebRouter(runtime: CoreRuntime, dependencies: WebDependencies) async throws
    -> (router: Router<WebRequestContext>, curl: CurlHTTPClient?)
{
    guard let activeKey = runtime.settings.encryptionKeys.first else {
        throw ConfigurationError("ENCRYPTION_KEYS", "needs at least one key (sessions are signed with a key derived from it)")
    }
    guard let password = runtime.settings.adminPassword, !password.isEmpty else {
        throw ConfigurationError("ADMIN_PASSWORD", "is required for the dashboard")
    }
    let curl: CurlHTTPClient? = dependencies.http == nil ? CurlHTTPClient() : nil
    let http: any HTTPClient = dependencies.http ?? curl!
    let now = dependencies.now ?? runtime.now
    let slack = SlackWebClient(baseURL: runtime.settings.slackAPIBaseURL, http: http, logger: runtime.logger)
    let environment = WebEnvironment(
        runtime: runtime,
        renderer: try await PageRenderer.load(),
        signer: SessionSigner(encryptionKey: activeKey),
        slack: slack,
        throttle: WebThrottle(
            limiter: dependencies.rateLimiter ?? runtime.makeRateLimiter(),
            loginLimit: RateLimitSpec(limit: dependencies.loginAttempts, windowSeconds: Int(dependencies.loginWindow)),
            oauthStartLimit: dependencies.oauthStartLimit, now: now, logger: runtime.logger
        ),
        clients: ClientAddressResolver(trustedProxies: runtime.settings.trustedProxies),
        adminCheck: AdminCheck(installations: runtime.installations, slack: slack),
        passwordCheck: PasswordCheck(password: password),
        now: now,
        sessionLifetime: dependencies.sessionLifetime
    )

    let router = Router(context: WebRequestContext.self)
    router.add(middleware: RequestLogMiddleware(logger: runtime.logger))
    router.add(middleware: SecurityHeadersMiddleware(strictTransportSecurity: environment.secureCookies))
    router.add(middleware: FailurePageMiddleware(environment: environment))
    OperationalRoutes.add(to: router, runtime: runtime, service: .web)

    let stylesheet = environment.renderer.stylesheet
    router.get("/static/style.css") { _, _ in
        Response(
            status: .ok,
            headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: stylesheet))
        )
    }
    router.get("/") { request, _ in
        Response.redirect(to: try await environment.session(request) == nil ? "/slack/install" : "/dashboard")
    }
    InstallRoutes(environment: environment).add(to: router)
    SignInRoutes(environment: environment).add(to: router)
    LoginRoutes(environment: environment).add(to: router)
    DashboardRoutes(environment: environment).add(to: router)
    return (router, curl)
}

/// What the web service tidies up on its own, every `interval`: expired OAuth states (every anonymous visit to the
/// install page writes one) and revocations of sessions whose cookies have expired anyway.
struct WebHousekeeping: Service {
    let runtime: CoreRuntime
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let states = try await runtime.oauthStates.purgeExpired()
                    let sessions = try await runtime.dashboardSessions.purgeExpired()
                    if states + sessions > 0 {
                        runtime.logger.info("purged expired rows", metadata: ["oauth_states": "\(states)", "revoked_sessions": "\(sessions)"])
                    }
                } catch {
                    runtime.logger.warning("housekeeping failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
