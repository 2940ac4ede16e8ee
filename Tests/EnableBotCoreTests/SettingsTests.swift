import EnableBotCore
import Foundation
import Testing
import TestSupport

@Suite("Settings")
struct SettingsTests {
    /// A development environment whose generated secrets go to a fresh folder.
    func env(_ values: [String: String] = [:]) -> [String: String] {
        ["ENABLEBOT_DATA_DIR": TestPaths.temporaryDirectory()].merging(values) { _, new in new }
    }

    func error(_ service: ServiceName, _ values: [String: String]) -> ConfigurationError? {
        do {
            _ = try Settings.load(service: service, environment: env(values))
            return nil
        } catch {
            return error
        }
    }

    @Test("defaults match SPEC.md")
    func defaults() throws {
        let api = try Settings.load(service: .api, environment: env())
        #expect(api.port == 8001)
        #expect(api.host == "127.0.0.1")
        #expect(api.databaseURL == "sqlite:data/enablebot.sqlite")
        #expect(api.databasePoolSize == 10)
        #expect(api.redisURL == nil)
        #expect(api.keyRotationDays == 90)
        #expect(api.logFormat == .json)
        #expect(api.slackAPIBaseURL == "http://127.0.0.1:8002/api")  // development without SLACK_CLIENT_ID: the emulator
        #expect(api.llmBaseURL == "https://api.openai.com/v1")
        #expect(api.llmModel == "gpt-4o-mini")
        #expect(api.llmTimeoutSeconds == 30)
        #expect(api.maxWorkers == 1024)
        #expect(api.maxInflightPerTenant == nil)
        #expect(api.rateLimitPerTenant == RateLimitSpec(limit: 100, windowSeconds: 60))
        #expect(api.rateLimitGlobal == RateLimitSpec(limit: 10_000, windowSeconds: 60))
        #expect(api.maxBodyBytes == 1 << 20)
        #expect(api.encryptionKeys.count == 1)
        #expect(!api.slackSigningSecret.isEmpty)
        let web = try Settings.load(service: .web, environment: env())
        #expect(web.port == 8000)
        #expect(web.slackRedirectURI == "http://localhost:8000/slack/oauth/callback")
        #expect(web.slackOIDCRedirectURI == "http://localhost:8000/auth/slack/callback")
        #expect(web.slackScopes == "app_mentions:read,assistant:write,chat:write,im:history,im:read,im:write,commands,users:read")
    }

    @Test("development secrets are generated once and shared")
    func generatedSecrets() throws {
        let shared = env()
        let first = try Settings.load(service: .api, environment: shared)
        let second = try Settings.load(service: .web, environment: shared)
        #expect(first.encryptionKeys.map(\.encoded) == second.encryptionKeys.map(\.encoded))
        let again = try Settings.load(service: .api, environment: shared)
        #expect(again.slackSigningSecret == first.slackSigningSecret)
        #expect(first.warnings.contains { $0.contains("ENCRYPTION_KEYS") })
    }

    @Test("every malformed setting is named with what it expects", arguments: [
        ("DATABASE_POOL_SIZE", "abc"), ("DATABASE_POOL_SIZE", "0"), ("API_PORT", "70000"), ("DATABASE_URL", "mysql://x"),
        ("REDIS_URL", "http://x"), ("ENCRYPTION_KEYS", "k1:short"), ("ENCRYPTION_KEYS", "nocolon"),
        ("KEY_ROTATION_DAYS", "-1"), ("LOG_LEVEL", "loud"), ("LOG_FORMAT", "xml"), ("SLACK_API_BASE_URL", "ftp://x"),
        ("LLM_BASE_URL", "not a url"), ("LLM_TIMEOUT_SECONDS", "1.5"), ("MAX_WORKERS", "many"),
        ("RATE_LIMIT_PER_TENANT", "100/fortnight"), ("RATE_LIMIT_GLOBAL", "0/minute"), ("MAX_BODY_BYTES", "1e6"),
        ("ENABLEBOT_ENV", "staging"), ("TOKEN_BUDGET_PER_TENANT", "2000000/week"), ("TOKEN_BUDGET_PER_TENANT", "-5"),
        ("TOKEN_BUDGET_PER_TENANT", "lots"),
    ])
    func malformed(name: String, value: String) throws {
        let failure = try #require(error(.api, [name: value]))
        #expect(failure.setting == name)
        #expect(failure.description.hasPrefix("configuration error: \(name) "))
        #expect(!failure.description.contains("\n"))
    }

    @Test("TOKEN_BUDGET_PER_TENANT: N/month for both services, 0 (the default) is unlimited")
    func tokenBudget() throws {
        #expect(try Settings.load(service: .api, environment: env()).tokenBudgetPerTenant == .unlimited)
        for service in [ServiceName.api, .web] {
            let settings = try Settings.load(service: service, environment: env(["TOKEN_BUDGET_PER_TENANT": "2000000/month"]))
            #expect(settings.tokenBudgetPerTenant == TokenBudget(tokensPerMonth: 2_000_000))
        }
        #expect(try Settings.load(service: .api, environment: env(["TOKEN_BUDGET_PER_TENANT": "0"])).tokenBudgetPerTenant.isUnlimited)
        let budget = TokenBudget(tokensPerMonth: 100)
        #expect(budget.description == "100/month" && TokenBudget(parsing: budget.description) == budget)
        #expect(!budget.isExhausted(byUsing: 99) && budget.isExhausted(byUsing: 100))
        #expect(!TokenBudget.unlimited.isExhausted(byUsing: .max))
    }

    @Test("an empty or blank signing secret is refused")
    func blankSigningSecret() {
        #expect(error(.api, ["SLACK_SIGNING_SECRET": ""])?.setting == "SLACK_SIGNING_SECRET")
        #expect(error(.api, ["SLACK_SIGNING_SECRET": "   "])?.setting == "SLACK_SIGNING_SECRET")
    }

    @Test("the signing secret is trimmed: signatures made with the trimmed secret verify")
    func signingSecretTrimmed() throws {
        let settings = try Settings.load(service: .api, environment: env(["SLACK_SIGNING_SECRET": "  s3cret-value \n"]))
        #expect(settings.slackSigningSecret == "s3cret-value")
        let body = Array(#"{"type":"event_callback"}"#.utf8)
        let signature = SlackSignatureVerifier.sign(secret: "s3cret-value", timestamp: "1700000000", body: body)
        let verifier = SlackSignatureVerifier(signingSecret: settings.slackSigningSecret, now: { Date(timeIntervalSince1970: 1_700_000_000) })
        #expect(throws: Never.self) { try verifier.verify(timestamp: "1700000000", signature: signature, body: body) }
    }

    @Test("production refuses development conveniences")
    func production() throws {
        let key = EncryptionKey.generate(id: "p1").encoded
        #expect(error(.api, ["ENABLEBOT_ENV": "production"])?.setting == "ENCRYPTION_KEYS")
        #expect(error(.api, ["ENABLEBOT_ENV": "production", "ENCRYPTION_KEYS": key])?.setting == "SLACK_SIGNING_SECRET")
        #expect(error(.api, ["ENABLEBOT_ENV": "production", "ENCRYPTION_KEYS": key, "SLACK_SIGNING_SECRET": "s3cr3t"])?
            .setting == "LLM_API_KEY")
        #expect(error(.api, ["ENABLEBOT_ENV": "production", "ENCRYPTION_KEYS": key, "SLACK_SIGNING_SECRET": "s3cr3t",
                             "LLM_API_KEY": "sk-x", "SLACK_API_BASE_URL": "http://127.0.0.1:9/api"])?.setting == "SLACK_API_BASE_URL")
        #expect(error(.web, ["ENABLEBOT_ENV": "production", "ENCRYPTION_KEYS": key])?.setting == "SLACK_CLIENT_ID")
        #expect(error(.web, ["ENABLEBOT_ENV": "production", "ENCRYPTION_KEYS": key, "SLACK_CLIENT_ID": "1.2",
                             "SLACK_CLIENT_SECRET": "cs"])?.setting == "ADMIN_PASSWORD")
        let ok = try Settings.load(service: .api, environment: env([
            "ENABLEBOT_ENV": "production", "ENCRYPTION_KEYS": key, "SLACK_SIGNING_SECRET": "s3cr3t", "OPENAI_API_KEY": "sk-x",
        ]))
        #expect(ok.llmAPIKey == "sk-x")
        #expect(ok.warnings.isEmpty)
    }

    @Test("development without Slack credentials points at the emulator; with them, at Slack")
    func emulatorDefaults() throws {
        let shared = env()
        let web = try Settings.load(service: .web, environment: shared)
        #expect(web.usesSlackEmulator)
        #expect(web.slackAPIBaseURL == "http://127.0.0.1:8002/api")
        #expect(web.slackAuthorizeURL == "http://127.0.0.1:8002/oauth/v2/authorize")
        #expect(web.slackOIDCAuthorizeURL == "http://127.0.0.1:8002/openid/connect/authorize")
        #expect(web.slackClientID == SlackEmulatorDefaults.clientID)
        #expect(web.slackClientSecret == SlackEmulatorDefaults.clientSecret)
        #expect(web.warnings.contains { $0.contains("Slack emulator") })
        // The emulator signs with the secret the API verifies with.
        let api = try Settings.load(service: .api, environment: shared)
        #expect(api.slackSigningSecret == (try Settings.developmentSigningSecret(dataDirectory: shared["ENABLEBOT_DATA_DIR"]!)))
        #expect(api.slackClientID == SlackEmulatorDefaults.clientID)

        let moved = try Settings.load(service: .web, environment: env(["EMULATOR_PORT": "9102"]))
        #expect(moved.slackAuthorizeURL == "http://127.0.0.1:9102/oauth/v2/authorize")
        #expect(moved.slackAPIBaseURL == "http://127.0.0.1:9102/api")

        let real = try Settings.load(service: .web, environment: env(["SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "cs"]))
        #expect(!real.usesSlackEmulator)
        #expect(real.slackAPIBaseURL == "https://slack.com/api")
        #expect(real.slackAuthorizeURL == "https://slack.com/oauth/v2/authorize")
        #expect(real.slackOIDCAuthorizeURL == "https://slack.com/openid/connect/authorize")
        let realAPI = try Settings.load(service: .api, environment: env(["SLACK_CLIENT_ID": "1.2"]))
        #expect(realAPI.slackAPIBaseURL == "https://slack.com/api")
    }

    @Test("production refuses the emulator's URLs", arguments: [
        "SLACK_API_BASE_URL", "SLACK_AUTHORIZE_URL", "SLACK_OIDC_AUTHORIZE_URL",
    ])
    func productionRefusesEmulator(setting: String) throws {
        let emulator = SlackEmulatorDefaults()
        let url = ["SLACK_API_BASE_URL": emulator.apiBaseURL, "SLACK_AUTHORIZE_URL": emulator.authorizeURL,
                   "SLACK_OIDC_AUTHORIZE_URL": emulator.openIDAuthorizeURL][setting]!
        let production = [
            "ENABLEBOT_ENV": "production", "ENCRYPTION_KEYS": EncryptionKey.generate(id: "p1").encoded,
            "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "cs", "ADMIN_PASSWORD": "operator-password",
        ]
        #expect(error(.web, production.merging([setting: url]) { _, new in new })?.setting == setting)
        #expect(error(.web, production) == nil)
        // Without SLACK_CLIENT_ID production never falls back to the emulator: it asks for the credentials.
        #expect(error(.web, production.filter { $0.key != "SLACK_CLIENT_ID" })?.setting == "SLACK_CLIENT_ID")
    }

    @Test("a secret in a malformed setting is not echoed whole")
    func noEcho() throws {
        let secret = "xoxb-1234567890-abcdefghijklmnopqrstuvwxyz"
        let failure = try #require(error(.api, ["DATABASE_POOL_SIZE": secret]))
        #expect(!failure.description.contains(secret))
    }

    @Test("ENV_FILE is read first and the real environment wins")
    func dotenv() throws {
        let path = TestPaths.temporaryDirectory() + "/.env.api"
        try """
        # comment
        export LLM_MODEL="gpt-from-file"
        MAX_WORKERS=7 # trailing comment
        API_PORT='9001'
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let settings = try Settings.load(service: .api, environment: env(["ENV_FILE": path, "API_PORT": "9002"]))
        #expect(settings.llmModel == "gpt-from-file")
        #expect(settings.maxWorkers == 7)
        #expect(settings.port == 9002)
        #expect(error(.api, ["ENV_FILE": "/nonexistent/.env"])?.setting == "ENV_FILE")
    }

    @Test("rate limit specs parse N/second, N/minute, N/hour only")
    func rateLimits() {
        #expect(RateLimitSpec(parsing: "50/minute") == RateLimitSpec(limit: 50, windowSeconds: 60))
        #expect(RateLimitSpec(parsing: "5/second") == RateLimitSpec(limit: 5, windowSeconds: 1))
        #expect(RateLimitSpec(parsing: "1000/hour") == RateLimitSpec(limit: 1000, windowSeconds: 3600))
        for bad in ["", "50", "/minute", "-5/minute", "0/minute", "5/day", "5.5/minute", "5 /minute", "abc/minute"] {
            #expect(RateLimitSpec(parsing: bad) == nil, "\(bad)")
        }
    }
}
