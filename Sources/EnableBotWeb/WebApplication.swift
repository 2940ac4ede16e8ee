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
    /// Operator login attempts admitted per client address in `loginWindow` seconds.
    public var loginAttempts: Int
    public var loginWindow: TimeInterval
    /// How long a dashboard session lasts.
    public var sessionLifetime: TimeInterval

    public init(
        http: (any HTTPClient)? = nil, now: (@Sendable () -> Date)? = nil,
        loginAttempts: Int = 5, loginWindow: TimeInterval = 300, sessionLifetime: TimeInterval = 8 * 3600
    ) {
        self.http = http
        self.now = now
        self.loginAttempts = loginAttempts
        self.loginWindow = loginWindow
        self.sessionLifetime = sessionLifetime
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
    var services: [any Service] = []
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
    let environment = WebEnvironment(
        runtime: runtime,
        renderer: try await PageRenderer.load(),
        signer: SessionSigner(encryptionKey: activeKey),
        slack: SlackWebClient(baseURL: runtime.settings.slackAPIBaseURL, http: http, logger: runtime.logger),
        loginLimiter: LoginRateLimiter(limit: dependencies.loginAttempts, window: dependencies.loginWindow, now: now),
        passwordCheck: PasswordCheck(password: password),
        now: now,
        sessionLifetime: dependencies.sessionLifetime
    )

    let router = Router(context: WebRequestContext.self)
    router.add(middleware: RequestLogMiddleware(logger: runtime.logger))
    router.add(middleware: SecurityHeadersMiddleware())
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
        Response.redirect(to: environment.session(request) == nil ? "/slack/install" : "/dashboard")
    }
    InstallRoutes(environment: environment).add(to: router)
    SignInRoutes(environment: environment).add(to: router)
    LoginRoutes(environment: environment).add(to: router)
    DashboardRoutes(environment: environment).add(to: router)
    return (router, curl)
}
