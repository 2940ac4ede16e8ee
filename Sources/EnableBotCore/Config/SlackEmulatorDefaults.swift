/// Where the Slack emulator (`enablebot-emulator`) listens and which app credentials it accepts. In development,
/// with no `SLACK_CLIENT_ID`, both services point their Slack settings here, and the emulator signs its events with
/// the same development signing secret the API verifies with (`data/slack_signing_secret`).
public struct SlackEmulatorDefaults: Sendable, Equatable {
    /// The emulator's fixed development app: not a secret, and refused in production (which requires real ones).
    public static let clientID = "emulator.enablebot"
    public static let clientSecret = "emulator-client-secret"
    public static let defaultPort = 8002

    public var port: Int

    public init(port: Int = Self.defaultPort) {
        self.port = port
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    public var origin: String { "http://127.0.0.1:\(port)" }
    public var apiBaseURL: String { origin + "/api" }
    public var authorizeURL: String { origin + "/oauth/v2/authorize" }
    public var openIDAuthorizeURL: String { origin + "/openid/connect/authorize" }
}

extension Settings {
    /// The development signing secret both the API and the emulator use when `SLACK_SIGNING_SECRET` is unset,
    /// kept in (and created once in) `dataDirectory`.
    public static func developmentSigningSecret(dataDirectory: String) throws(ConfigurationError) -> String {
        try DevelopmentSecrets(directory: dataDirectory).signingSecret()
    }
}
