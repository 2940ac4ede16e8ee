import EnableBotCore
import EnableBotHTTP
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// What `buildAPIApplication` can be given instead of its production parts: tests point the HTTP client at
/// fake servers, swap the model, share a rate limiter and drive time.
public struct APIDependencies: Sendable {
    /// The database (and Redis) to run on. nil: opened from the settings and closed by the application's services;
    /// given: the caller owns them.
    public var backends: Backends?
    /// Outbound HTTP for Slack and the model. nil: a `CurlHTTPClient`, run as one of the app's services.
    public var httpClient: (any HTTPClient)?
    /// nil: `OpenAIChatClient` at `LLM_BASE_URL`, or the `OfflineModel` when `Settings.usesOfflineModel`.
    public var llm: (any LLMClient)?
    /// nil: with `REDIS_URL`, a `RedisRateLimiter` shared by all instances (this process's own limits while Redis
    /// fails); without it, an `InMemoryRateLimiter`.
    public var rateLimiter: (any RateLimiter)?
    /// The clock of the stores, the signature window and the rate limits. nil: the system clock.
    public var now: (@Sendable () -> Date)?
    /// How waits (Slack's Retry-After, model retry backoff) sleep.
    public var sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    /// nil: from the settings (`MAX_WORKERS`, a lease that outlasts the model's timeout).
    public var worker: JobWorkerConfiguration?
    /// Retries of a failed model call (5xx, connection errors) before the apology.
    public var llmMaxRetries = 2
    public var llmRetryBackoff: Duration = .milliseconds(500)
    public var slackMaxRateLimitRetries = 3
    public var budget = PromptBudget()
    /// Registers `POST /bench/bare`, the benchmark's reference route (`ENABLEBOT_BENCH_ROUTE=1`; never in production).
    public var benchRoute = ProcessInfo.processInfo.environment["ENABLEBOT_BENCH_ROUTE"] == "1"
    /// Run the job worker (tests of the ack path alone may turn it off).
    public var runsWorker = true

    public init() {}
}

/// Builds `enablebot-api`: Slack events and commands, the background job worker, health and metrics. Its services,
/// in the order the service group starts them (and the reverse of the order it stops them): the database and Redis,
/// the libcurl client, the job worker and token refresh, the SQLite checkpointer, then the server. Migrations run
/// before the server listens.
public func buildAPIApplication(
    settings: Settings, logger: Logger, dependencies: APIDependencies = APIDependencies(),
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    let now = dependencies.now ?? Date.init
    let parts = try await ApplicationParts.assemble(
        settings: settings, logger: logger, backends: dependencies.backends, http: dependencies.httpClient
    )
    let (backends, http) = (parts.backends, parts.http)
    var services = parts.services
    let stores = Stores(database: backends.database, cipher: try TokenCipher(keys: settings.encryptionKeys), now: now)

    let slack = SlackWebClient(
        baseURL: settings.slackAPIBaseURL, http: http, logger: logger,
        maxRateLimitRetries: dependencies.slackMaxRateLimitRetries, sleep: dependencies.sleep
    )
    let llm: any LLMClient = dependencies.llm ?? {
        if settings.usesOfflineModel { return OfflineModel() }
        return OpenAIChatClient(
            baseURL: settings.llmBaseURL, apiKey: settings.llmAPIKey ?? "", timeout: .seconds(settings.llmTimeoutSeconds),
            http: http, logger: logger, maxRetries: dependencies.llmMaxRetries, backoff: dependencies.llmRetryBackoff,
            sleep: dependencies.sleep
        )
    }()
    let tokens = BotTokenProvider(
        installations: stores.installations, slack: slack, clientID: settings.slackClientID,
        clientSecret: settings.slackClientSecret, auditLog: stores.auditLog, now: now, logger: logger
    )
    let limiter: any RateLimiter = dependencies.rateLimiter ?? backends.makeRateLimiter(logger: logger)
    let usage = UsageRecorder(counters: stores.usage, now: now, logger: logger)
    services.append(usage)
    let handler = AnswerHandler(
        stores: stores, limits: AnswerLimits(settings: settings), logger: logger, slack: slack, llm: llm, limiter: limiter,
        usage: usage, tokens: tokens, budget: dependencies.budget, now: now,
        assistantThreads: AssistantThreadHandler(
            stores: stores, slack: slack, tokens: tokens, failures: SlackFailureRecorder(stores: stores, usage: usage), logger: logger
        )
    )

    let signal = JobSignal()
    let startup = StartupGate()
    if dependencies.runsWorker {
        let worker = JobWorker(
            queue: stores.jobs,
            configuration: dependencies.worker ?? JobWorkerConfiguration(
                concurrency: settings.maxWorkers, perTenant: settings.maxInflightPerTenant
            ),
            signal: signal, logger: logger, startup: startup, handler: { job in try await handler.handle(job) }
        )
        services.append(worker)
        services.append(TokenRefreshService(installations: stores.installations, tokens: tokens, now: now, logger: logger, startup: startup))
    }

    if settings.retentionIntervalMinutes > 0 {
        services.append(RetentionService(
            retention: Retention(database: backends.database, policy: settings.retention, now: now),
            interval: .seconds(settings.retentionIntervalMinutes * 60), logger: logger
        ))
    }
    if let sqlite = backends.database as? SQLiteDatabase, sqlite.path != ":memory:" {
        services.append(SQLiteCheckpointer(database: sqlite, path: sqlite.path, logger: logger))
    }

    let verifier = SlackSignatureVerifier(signingSecret: settings.slackSigningSecret, now: now)
    let authorizer = InstallationAuthorizer(store: stores.installations)
    let router = Router(context: BasicRequestContext.self)
    // The Slack routes write one line per request themselves (`SlackPipeline.respond`), with event, tenant and outcome.
    router.add(middleware: RequestLogMiddleware(
        logger: logger, quietPaths: ["/health", "/metrics", "/slack/events", "/slack/commands"]))
    router.add(middleware: APIErrorMiddleware(logger: logger))
    OperationalRoutes.add(
        to: router, health: HealthCheck(backends: backends, keys: stores.keys, settings: settings, logger: logger), service: .api,
        logger: logger
    )
    SlackPipeline(
        verifier: verifier, maxBodyBytes: settings.maxBodyBytes, authorizer: authorizer,
        events: EventsHandler(stores: stores, authorizer: authorizer, claims: stores.processedEvents, signal: signal),
        commands: CommandsHandler(claims: stores.processedEvents, signal: signal), logger: logger
    ).add(to: router)
    if dependencies.benchRoute, !settings.isProduction {
        // The benchmark's reference: the same server and middleware, none of the Slack pipeline.
        router.post("/bench/bare") { request, _ -> Response in
            var request = request
            _ = try await request.collectBody(limit: settings.maxBodyBytes)
            return Response(status: .ok)
        }
    }

    var app = Application(
        router: router,
        configuration: .init(
            address: .hostname(settings.host, port: settings.port), serverName: "enablebot-api", backlog: 4096
        ),
        services: services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
        logger: logger
    )
    app.beforeServerStarts {
        try await backends.prepare(keys: stores.keys, keyIDs: settings.encryptionKeys.map(\.id), logger: logger)
        try await LegacyJobUpgrade.run(database: backends.database, jobs: stores.jobs, logger: logger)
        startup.open()
    }
    return app
}
