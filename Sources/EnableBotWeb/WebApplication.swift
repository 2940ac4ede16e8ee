import EnableBotCore
import EnableBotHTTP
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// What `buildWebApplication` takes from outside, so tests can replace the network and the clock.
public struct WebDependencies: Sendable {
    /// The database (and Redis) to run on. nil: opened from the settings and closed by the application's services;
    /// given: the caller owns them.
    public var backends: Backends?
    /// Outbound HTTP to Slack. nil: a `CurlHTTPClient`, run as one of the application's services.
    public var http: (any HTTPClient)?
    /// The clock for sessions, state expiry and throttling; nil: the system clock.
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
        backends: Backends? = nil, http: (any HTTPClient)? = nil, now: (@Sendable () -> Date)? = nil, rateLimiter: (any RateLimiter)? = nil,
        loginAttempts: Int = 5, loginWindow: TimeInterval = 300,
        oauthStartLimit: RateLimitSpec = RateLimitSpec(limit: 30, windowSeconds: 60),
        sessionLifetime: TimeInterval = 8 * 3600, housekeepingInterval: Duration = .seconds(600)
    ) {
        self.backends = backends
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

/// Builds `enablebot-web`: OAuth installs, the dashboard, health and metrics. Its services, in the order the
/// service group starts them (and the reverse of the order it stops them): the database and Redis, the libcurl
/// client, the housekeeping loop, then the server. Migrations run before the server listens.
public func buildWebApplication(
    settings: Settings, logger: Logger, dependencies: WebDependencies = WebDependencies(),
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    guard let activeKey = settings.encryptionKeys.first else {
        throw ConfigurationError("ENCRYPTION_KEYS", "needs at least one key (sessions are signed with a key derived from it)")
    }
    guard let password = settings.adminPassword, !password.isEmpty else {
        throw ConfigurationError("ADMIN_PASSWORD", "is required for the dashboard")
    }
    let parts = try await ApplicationParts.assemble(
        settings: settings, logger: logger, backends: dependencies.backends, http: dependencies.http
    )
    let (backends, http) = (parts.backends, parts.http)
    var services = parts.services
    let now = dependencies.now ?? Date.init
    let stores = Stores(database: backends.database, cipher: try TokenCipher(keys: settings.encryptionKeys), now: now)
    let slack = SlackWebClient(baseURL: settings.slackAPIBaseURL, http: http, logger: logger)
    let environment = WebEnvironment(
        settings: settings, logger: logger, stores: stores,
        health: HealthCheck(backends: backends, keys: stores.keys, settings: settings, logger: logger),
        databaseKind: backends.database.dialect.rawValue,
        renderer: try await PageRenderer.load(),
        signer: SessionSigner(encryptionKey: activeKey),
        slack: slack,
        throttle: WebThrottle(
            limiter: dependencies.rateLimiter ?? backends.makeRateLimiter(logger: logger),
            loginLimit: RateLimitSpec(limit: dependencies.loginAttempts, windowSeconds: Int(dependencies.loginWindow)),
            oauthStartLimit: dependencies.oauthStartLimit, now: now, logger: logger
        ),
        clients: ClientAddressResolver(trustedProxies: settings.trustedProxies),
        adminCheck: AdminCheck(installations: stores.installations, slack: slack),
        passwordCheck: PasswordCheck(password: password),
        now: now,
        sessionLifetime: dependencies.sessionLifetime
    )

    let router = Router(context: WebRequestContext.self)
    router.add(middleware: RequestLogMiddleware(logger: logger))
    router.add(middleware: SecurityHeadersMiddleware(strictTransportSecurity: environment.secureCookies))
    router.add(middleware: FailurePageMiddleware(environment: environment))
    OperationalRoutes.add(to: router, health: environment.health, service: .web, logger: logger)

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

    services.append(WebHousekeeping(stores: stores, logger: logger, interval: dependencies.housekeepingInterval))
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "enablebot-web"),
        services: services,
        onServerRunning: onServerRunning,
        logger: logger
    )
    app.beforeServerStarts {
        try await backends.prepare(keys: stores.keys, keyIDs: settings.encryptionKeys.map(\.id), logger: logger)
    }
    return app
}

/// What the web service tidies up on its own, every `interval`: expired OAuth states (every anonymous visit to the
/// install page writes one) and revocations of sessions whose cookies have expired anyway.
struct WebHousekeeping: Service {
    let stores: Stores
    let logger: Logger
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let states = try await stores.oauthStates.purgeExpired()
                    let sessions = try await stores.dashboardSessions.purgeExpired()
                    if states + sessions > 0 {
                        logger.info("purged expired rows", metadata: ["oauth_states": "\(states)", "revoked_sessions": "\(sessions)"])
                    }
                } catch {
                    logger.warning("housekeeping failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
