import Foundation
import Logging

/// Which program is reading the settings; each requires its own.
public enum ServiceName: String, Sendable {
    case api
    case web
    case cli
    /// The Slack emulator (`enablebot-emulator`, development only).
    case emulator
}

/// Every setting SPEC.md names, read once at start. Names of the properties follow the variables.
public struct Settings: Sendable {
    public enum Environment: String, Sendable {
        case development
        case production
    }

    public enum LogFormat: String, Sendable {
        case json
        case text
    }

    public var environment: Environment = .development
    public var host = "127.0.0.1"
    public var port = 8000
    public var databaseURL = "sqlite:data/enablebot.sqlite"
    public var databasePoolSize = 10
    public var redisURL: String?
    public var encryptionKeys: [EncryptionKey] = []
    public var keyRotationDays = 90
    public var logLevel: Logger.Level = .info
    public var logFormat: LogFormat = .json
    public var slackAPIBaseURL = "https://slack.com/api"
    /// Development without Slack credentials: the Slack settings default to the emulator's (`SlackEmulatorDefaults`).
    public var usesSlackEmulator = false
    public var maxBodyBytes = 1 << 20
    /// Where development mode keeps generated secrets.
    public var dataDirectory = "data"

    // enablebot-web
    public var slackClientID = ""
    public var slackClientSecret = ""
    public var slackRedirectURI = "http://localhost:8000/slack/oauth/callback"
    public var slackScopes = "app_mentions:read,assistant:write,chat:write,im:history,im:read,im:write,commands,users:read"
    public var slackUserScopes = ""
    public var slackAuthorizeURL = "https://slack.com/oauth/v2/authorize"
    public var slackOIDCAuthorizeURL = "https://slack.com/openid/connect/authorize"
    public var slackOIDCRedirectURI = "http://localhost:8000/auth/slack/callback"
    public var adminPassword: String?
    /// Load balancers whose `X-Forwarded-For` names the client (login and install throttling).
    public var trustedProxies: [CIDR] = []

    // enablebot-api
    public var slackSigningSecret = ""
    public var llmBaseURL = "https://api.openai.com/v1"
    public var llmAPIKey: String?
    public var llmModel = "gpt-4o-mini"
    /// The models a workspace admin may choose on the dashboard (`LLM_MODELS`, default: just `LLM_MODEL`).
    public var llmModels = ["gpt-4o-mini"]
    public var llmTimeoutSeconds = 30
    /// Answers are shown while the model writes them (`LLM_STREAMING`): streamed from the model, and to Slack with
    /// `chat.startStream` (or a message that is updated, where Slack refuses streaming).
    public var llmStreaming = true
    /// Ceiling on concurrent background jobs: each mostly waits on a socket, so hundreds are cheap.
    public var maxWorkers = 1024
    /// Jobs one workspace may hold at once; nil: a fair share of `maxWorkers` (a quarter, at least 8).
    public var maxInflightPerTenant: Int?
    public var rateLimitPerTenant = RateLimitSpec(limit: 100, windowSeconds: 60)
    public var rateLimitGlobal = RateLimitSpec(limit: 10_000, windowSeconds: 60)
    /// Model tokens a workspace may use a month unless the operator set its own (`TOKEN_BUDGET_PER_TENANT`; 0: unlimited).
    public var tokenBudgetPerTenant = TokenBudget.unlimited
    /// Minutes between the retention runs the API service does itself (`RETENTION_INTERVAL_MINUTES`; 0 turns them off).
    public var retentionIntervalMinutes = 10
    /// Chat memory retention (`CHAT_MEMORY_DAYS`, `CHAT_ARCHIVE_DAYS`), as `enablebot retention run` defaults it.
    public var retention = RetentionPolicy()

    /// Things development mode filled in for the operator, logged once the logger exists.
    public var warnings: [String] = []

    public init() {}

    public var isProduction: Bool { environment == .production }

    /// True when no LLM key is configured in development: answers come from the built-in offline model.
    public var usesOfflineModel: Bool { llmAPIKey == nil || llmBaseURL == "offline" }

    /// Reads and validates the settings `service` needs. Development conveniences (generated keys and
    /// signing secret) write into `dataDirectory`; production refuses them.
    public static func load(
        service: ServiceName, environment rawEnvironment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> Settings {
        let env = try DotEnv.mergedEnvironment(rawEnvironment)
        let reader = SettingsReader(env)
        var s = Settings()
        s.environment = try reader.choice("ENABLEBOT_ENV", default: .development)
        s.host = reader.string("HOST", default: s.host)
        switch service {
        case .web: s.port = try reader.integer("WEB_PORT", default: 8000, in: 1...65535)
        case .api: s.port = try reader.integer("API_PORT", default: 8001, in: 1...65535)
        case .cli, .emulator: break
        }
        s.databaseURL = reader.string("DATABASE_URL", default: s.databaseURL)
        guard s.databaseURL.hasPrefix("sqlite:") || s.databaseURL.hasPrefix("postgres://")
            || s.databaseURL.hasPrefix("postgresql://") else {
            throw ConfigurationError("DATABASE_URL", "must be sqlite:PATH or postgres://user:pass@host:5432/db")
        }
        s.databasePoolSize = try reader.integer("DATABASE_POOL_SIZE", default: 10, in: 1...1000)
        s.redisURL = reader.optional("REDIS_URL")
        if let redis = s.redisURL, !(redis.hasPrefix("redis://") || redis.hasPrefix("unix://")) {
            throw ConfigurationError("REDIS_URL", "must be redis://[:password@]host:6379/0")
        }
        s.keyRotationDays = try reader.integer("KEY_ROTATION_DAYS", default: 90, in: 1...3650)
        s.logLevel = try reader.logLevel("LOG_LEVEL")
        s.logFormat = try reader.choice("LOG_FORMAT", default: .json)
        // No Slack app configured in development: talk to the emulator that ships with the project.
        s.usesSlackEmulator = !s.isProduction && reader.optional("SLACK_CLIENT_ID") == nil
        let emulator = SlackEmulatorDefaults(
            port: try reader.integer("EMULATOR_PORT", default: SlackEmulatorDefaults.defaultPort, in: 1...65535)
        )
        s.slackAPIBaseURL = try reader.url("SLACK_API_BASE_URL", default: s.usesSlackEmulator ? emulator.apiBaseURL : s.slackAPIBaseURL)
        if s.usesSlackEmulator, service != .cli {
            s.warnings.append("SLACK_CLIENT_ID is not set: using the Slack emulator at \(emulator.origin) (start it with `enablebot-emulator`; scripts/run.sh does)")
        }
        s.maxBodyBytes = try reader.integer("MAX_BODY_BYTES", default: 1 << 20, in: 1024...(64 << 20))
        s.dataDirectory = reader.string("ENABLEBOT_DATA_DIR", default: "data")
        let development = DevelopmentSecrets(directory: s.dataDirectory)
        // Both services: the API answers with them, the dashboard holds workspace admins to them.
        s.llmModel = reader.string("LLM_MODEL", default: s.llmModel)
        s.llmModels = try reader.list("LLM_MODELS", default: [s.llmModel])
        s.rateLimitPerTenant = try reader.rateLimit("RATE_LIMIT_PER_TENANT", default: s.rateLimitPerTenant)
        s.tokenBudgetPerTenant = try reader.tokenBudget("TOKEN_BUDGET_PER_TENANT", default: s.tokenBudgetPerTenant)

        if let keys = reader.optional("ENCRYPTION_KEYS") {
            do {
                s.encryptionKeys = try EncryptionKey.parseList(keys)
            } catch {
                throw ConfigurationError("ENCRYPTION_KEYS", "must be a comma list of KEYID:BASE64_32_BYTES (\(error))")
            }
        } else if s.isProduction {
            throw ConfigurationError("ENCRYPTION_KEYS", "is required in production (KEYID:BASE64_32_BYTES, see `enablebot keys generate`)")
        } else {
            s.encryptionKeys = try development.encryptionKeys()
            s.warnings.append("ENCRYPTION_KEYS is not set: using a development key kept in \(s.dataDirectory)/; set ENCRYPTION_KEYS in production")
        }

        try Self.requireHTTPSInProduction("SLACK_API_BASE_URL", s.slackAPIBaseURL, s)

        if service == .web {
            s.slackClientID = reader.string("SLACK_CLIENT_ID", default: s.usesSlackEmulator ? SlackEmulatorDefaults.clientID : "")
            s.slackClientSecret = reader.string(
                "SLACK_CLIENT_SECRET", default: s.usesSlackEmulator ? SlackEmulatorDefaults.clientSecret : ""
            )
            if s.isProduction, s.slackClientID.isEmpty { throw ConfigurationError("SLACK_CLIENT_ID", "is required in production") }
            if s.isProduction, s.slackClientSecret.isEmpty { throw ConfigurationError("SLACK_CLIENT_SECRET", "is required in production") }
            s.slackRedirectURI = try reader.url("SLACK_REDIRECT_URI", default: s.slackRedirectURI)
            s.slackScopes = reader.string("SLACK_SCOPES", default: s.slackScopes)
            s.slackUserScopes = reader.string("SLACK_USER_SCOPES", default: "")
            s.slackAuthorizeURL = try reader.url(
                "SLACK_AUTHORIZE_URL", default: s.usesSlackEmulator ? emulator.authorizeURL : s.slackAuthorizeURL
            )
            s.slackOIDCAuthorizeURL = try reader.url(
                "SLACK_OIDC_AUTHORIZE_URL", default: s.usesSlackEmulator ? emulator.openIDAuthorizeURL : s.slackOIDCAuthorizeURL
            )
            // The emulator's (or any) http URLs would send the browser's installs and sign-ins to a fake Slack.
            try Self.requireHTTPSInProduction("SLACK_AUTHORIZE_URL", s.slackAuthorizeURL, s)
            try Self.requireHTTPSInProduction("SLACK_OIDC_AUTHORIZE_URL", s.slackOIDCAuthorizeURL, s)
            s.slackOIDCRedirectURI = try reader.url(
                "SLACK_OIDC_REDIRECT_URI", default: Self.origin(of: s.slackRedirectURI) + "/auth/slack/callback"
            )
            s.adminPassword = reader.optional("ADMIN_PASSWORD")
            s.trustedProxies = try reader.cidrs("TRUSTED_PROXIES")
            if s.isProduction, s.adminPassword == nil { throw ConfigurationError("ADMIN_PASSWORD", "is required in production") }
            if s.adminPassword == nil {
                s.adminPassword = try development.adminPassword()
                s.warnings.append("ADMIN_PASSWORD is not set: the development operator password is in \(s.dataDirectory)/admin_password")
            }
        }

        if service == .api {
            if env["SLACK_SIGNING_SECRET"] != nil {
                // Trimmed like every other setting: a pasted secret often carries a newline or spaces.
                guard let secret = reader.optional("SLACK_SIGNING_SECRET") else {
                    throw ConfigurationError("SLACK_SIGNING_SECRET", "is empty; it must be the app's signing secret")
                }
                s.slackSigningSecret = secret
            } else if s.isProduction {
                throw ConfigurationError("SLACK_SIGNING_SECRET", "is required in production")
            } else {
                s.slackSigningSecret = try development.signingSecret()
                s.warnings.append("SLACK_SIGNING_SECRET is not set: using a development secret kept in \(s.dataDirectory)/")
            }
            let baseURL = reader.string("LLM_BASE_URL", default: s.llmBaseURL)
            s.llmBaseURL = baseURL == "offline" ? baseURL : try reader.url("LLM_BASE_URL", default: s.llmBaseURL)
            s.llmAPIKey = reader.optional("LLM_API_KEY") ?? reader.optional("OPENAI_API_KEY")
            if s.isProduction, s.usesOfflineModel {
                throw ConfigurationError("LLM_API_KEY", "is required in production (the offline model is for development)")
            }
            if s.usesOfflineModel {
                s.warnings.append("LLM_API_KEY is not set: answers come from the built-in offline model")
            }
            s.llmTimeoutSeconds = try reader.integer("LLM_TIMEOUT_SECONDS", default: 30, in: 1...600)
            s.llmStreaming = try reader.bool("LLM_STREAMING", default: true)
            s.maxWorkers = try reader.integer("MAX_WORKERS", default: 1024, in: 1...10_000)
            if reader.optional("MAX_INFLIGHT_PER_TENANT") != nil {
                s.maxInflightPerTenant = try reader.integer("MAX_INFLIGHT_PER_TENANT", default: 0, in: 1...10_000)
            }
            s.rateLimitGlobal = try reader.rateLimit("RATE_LIMIT_GLOBAL", default: s.rateLimitGlobal)
            s.retentionIntervalMinutes = try reader.integer("RETENTION_INTERVAL_MINUTES", default: 10, in: 0...10_080)
            s.retention.memoryDays = try reader.integer("CHAT_MEMORY_DAYS", default: 30, in: 1...36_500)
            s.retention.archiveDays = try reader.integer("CHAT_ARCHIVE_DAYS", default: 90, in: 0...36_500)
            // Optional here: only needed to refresh rotating tokens (oauth.v2.access with a refresh token).
            s.slackClientID = reader.string("SLACK_CLIENT_ID", default: s.usesSlackEmulator ? SlackEmulatorDefaults.clientID : "")
            s.slackClientSecret = reader.string(
                "SLACK_CLIENT_SECRET", default: s.usesSlackEmulator ? SlackEmulatorDefaults.clientSecret : ""
            )
        }
        return s
    }

    /// Production talks to Slack only over https: no emulator, no fake, no plain-http proxy.
    private static func requireHTTPSInProduction(_ name: String, _ url: String, _ s: Settings) throws(ConfigurationError) {
        guard s.isProduction, !url.lowercased().hasPrefix("https://") else { return }
        throw ConfigurationError(name, "must be an https URL in production (got an http URL, such as the emulator's)")
    }

    /// `https://host:port` of a URL, for deriving sibling URLs.
    static func origin(of url: String) -> String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else {
            return url
        }
        return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
    }
}
