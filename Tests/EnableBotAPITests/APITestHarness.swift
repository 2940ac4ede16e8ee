import EnableBotAPI
import EnableBotCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import Testing
import TestSupport

/// Every log line the service writes during a test, for scanning.
final class LogCapture: Sendable {
    private let lines = NIOLockedValueBox<[String]>([])

    var all: [String] { lines.withLockedValue { $0 } }

    func logger() -> Logger {
        let output = LogOutput { [lines] line in lines.withLockedValue { $0.append(line) } }
        var logger = Logger(label: "enablebot-api") { label in
            JSONLogHandler(label: label, service: "api", level: .trace, output: output)
        }
        logger.logLevel = .trace
        return logger
    }
}

/// A tenant the harness installs.
struct TestTenant: Sendable {
    var id: String
    var botToken: String
    var botUserID: String { "UBOT\(id)" }
}

/// One test's world: a fresh database, a fake Slack and a fake model on loopback, captured logs, and the real
/// API application started on a free port as many times as a test needs (a restart is a second start).
/// Built inside a `TestStack` (`stack.api(kind)`, or `withAPIHarness(kind) { harness in … }`), which stops the
/// fakes and closes the database when the test's body ends.
final class APIHarness: Sendable {
    static let signingSecret = "test-signing-secret-8f3e1c0b9a"
    static let llmKey = "sk-test-llm-key-5d2a7b"

    let database: TestDatabase
    let slack: FakeSlack
    let llm: FakeLLM
    let logs: LogCapture
    let settings: Settings
    /// The stores over the test's database, as the application sees them.
    let stores: Stores
    let logger: Logger
    let now: @Sendable () -> Date
    let tenants: [TestTenant]

    init(
        database: TestDatabase, slack: FakeSlack, llm: FakeLLM, logs: LogCapture, settings: Settings, stores: Stores,
        logger: Logger, now: @escaping @Sendable () -> Date, tenants: [TestTenant]
    ) {
        self.database = database
        self.logs = logs
        self.slack = slack
        self.llm = llm
        self.settings = settings
        self.stores = stores
        self.logger = logger
        self.now = now
        self.tenants = tenants
    }

    static let clientSecret = "client-secret-9c8d7e"

    static func make(
        _ kind: TestDatabaseKind, in stack: TestStack, tenants ids: [String] = ["T1", "T2"],
        now: @escaping @Sendable () -> Date = Date.init, configure: (inout Settings) -> Void = { _ in }
    ) async throws -> APIHarness {
        let database = try await stack.database(kind)
        let slack = try await stack.slack(clientSecret: clientSecret)
        let llm = try await stack.llm()
        var settings = Settings()
        settings.host = "127.0.0.1"
        settings.port = 0
        settings.databaseURL = database.url
        settings.encryptionKeys = [EncryptionKey.generate(id: "k1")]
        settings.slackSigningSecret = signingSecret
        settings.slackAPIBaseURL = slack.apiBaseURL
        settings.llmBaseURL = llm.baseURL
        settings.llmAPIKey = llmKey
        settings.llmTimeoutSeconds = 5
        // Replies posted whole, as the suites written before streaming expect; StreamingTests switch it on.
        settings.llmStreaming = false
        settings.slackClientID = slack.clientID
        settings.slackClientSecret = slack.clientSecret
        configure(&settings)
        let capture = LogCapture()
        let stores = Stores(database: database.database, cipher: try TokenCipher(keys: settings.encryptionKeys), now: now)
        var tenants: [TestTenant] = []
        for id in ids {
            let tenant = TestTenant(id: id, botToken: "xoxb-\(id)-secret-token-\(UUID().uuidString.prefix(8))")
            try await stores.installations.save(
                Installation(
                    tenantID: id, teamID: id, enterpriseID: nil, teamName: "Team \(id)", appID: "A1", botUserID: tenant.botUserID,
                    botID: "B\(id)", scopes: "app_mentions:read,chat:write", installerUserID: "UINSTALL", installedAt: now(), updatedAt: now()
                ),
                tokens: InstallationTokens(botToken: tenant.botToken)
            )
            tenants.append(tenant)
        }
        return APIHarness(
            database: database, slack: slack, llm: llm, logs: capture, settings: settings, stores: stores,
            logger: capture.logger(), now: now, tenants: tenants
        )
    }

    func tenant(_ id: String) -> TestTenant { tenants.first { $0.id == id }! }

    /// Fast waits for Slack's Retry-After and model backoff, so tests do not sleep for seconds.
    static let quickSleep: @Sendable (Duration) async throws -> Void = { duration in
        try await Task.sleep(for: min(duration, .milliseconds(50)))
    }

    func dependencies(_ configure: (inout APIDependencies) -> Void = { _ in }) -> APIDependencies {
        var dependencies = APIDependencies()
        dependencies.sleep = Self.quickSleep
        dependencies.llmRetryBackoff = .milliseconds(10)
        dependencies.worker = JobWorkerConfiguration(
            concurrency: 4, lease: 30, pollInterval: .milliseconds(100), drainTimeout: .milliseconds(300), baseBackoff: 0.1
        )
        configure(&dependencies)
        return dependencies
    }

    /// Starts the API application, runs `test` against it over real HTTP, then stops it gracefully.
    func run<Value: Sendable>(
        _ dependencies: APIDependencies? = nil, _ test: @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        var dependencies = dependencies ?? self.dependencies()
        // The test owns the database; the application runs on it and leaves closing it to the test's stack.
        if dependencies.backends == nil { dependencies.backends = Backends(database: database.database) }
        if dependencies.now == nil { dependencies.now = now }
        let app = try await buildAPIApplication(settings: settings, logger: logger, dependencies: dependencies)
        return try await app.test(.live) { client in try await test(client) }
    }

    /// No captured line may contain a token, the signing secret, the model key or the client secret.
    func expectNoSecretsLogged(sourceLocation: SourceLocation = #_sourceLocation) {
        let secrets = [Self.signingSecret, Self.llmKey, settings.slackClientSecret] + tenants.map(\.botToken) + ["xoxb-", "xoxe-"]
        let lines = logs.all
        #expect(!lines.isEmpty, sourceLocation: sourceLocation)
        let timestamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
        for line in lines {
            // Every line is one JSON object with the fields SPEC.md names.
            let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            #expect(object?["service"] as? String == "api", "not a JSON log line: \(line)", sourceLocation: sourceLocation)
            #expect((object?["timestamp"] as? String)?.wholeMatch(of: timestamp) != nil, "\(line)", sourceLocation: sourceLocation)
            #expect(object?["level"] is String && object?["message"] is String, "\(line)", sourceLocation: sourceLocation)
            for secret in secrets {
                #expect(!line.contains(secret), "a log line holds a secret: \(line)", sourceLocation: sourceLocation)
            }
        }
    }
}

extension TestStack {
    /// An `APIHarness` whose database and fakes are closed when the stack ends.
    func api(
        _ kind: TestDatabaseKind, tenants: [String] = ["T1", "T2"], now: @escaping @Sendable () -> Date = Date.init,
        configure: (inout Settings) -> Void = { _ in }
    ) async throws -> APIHarness {
        try await APIHarness.make(kind, in: self, tenants: tenants, now: now, configure: configure)
    }
}

/// Runs `body` against a fresh `APIHarness`; everything it started is stopped, and awaited, when `body` returns
/// or throws.
func withAPIHarness<Value>(
    _ kind: TestDatabaseKind, tenants: [String] = ["T1", "T2"], now: @escaping @Sendable () -> Date = Date.init,
    configure: (inout Settings) -> Void = { _ in },
    isolation: isolated (any Actor)? = #isolation,
    _ body: (APIHarness) async throws -> Value
) async throws -> Value {
    try await withStack { stack in
        try await body(stack.api(kind, tenants: tenants, now: now, configure: configure))
    }
}
