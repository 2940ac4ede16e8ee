import EnableBotCore
import Foundation
import Logging

/// The emulator's settings, from the same environment (and `data/` folder) as the services, so that with no
/// configuration at all the three agree: the emulator listens where the services' development defaults point,
/// signs with the API's development signing secret and delivers to the API's default port.
public struct EmulatorConfiguration: Sendable {
    public var host = "127.0.0.1"
    /// `EMULATOR_PORT`, 8002.
    public var port = SlackEmulatorDefaults.defaultPort
    /// `EMULATOR_DATA_FILE`: where workspaces, messages and installations are kept; nil keeps them in memory.
    public var dataFile: String? = "data/emulator.json"
    /// `EMULATOR_EVENTS_URL` / `EMULATOR_COMMANDS_URL`: the app's request URLs.
    public var eventsURL = "http://127.0.0.1:8001/slack/events"
    public var commandsURL = "http://127.0.0.1:8001/slack/commands"
    /// `EMULATOR_APP_INSTALL_URL`: the app's install page, linked from workspaces that have not installed it.
    public var appInstallURL = "http://localhost:8000/slack/install"
    public var signingSecret: String
    public var clientID = SlackEmulatorDefaults.clientID
    public var clientSecret = SlackEmulatorDefaults.clientSecret
    /// Slack gives the app 3 seconds to acknowledge.
    public var deliveryTimeout: Duration = .seconds(3)
    /// Waits before the retries (Slack: at once, after 1 and after 5 minutes; shortened for development).
    public var retryDelays: [Duration] = [.seconds(1), .seconds(5), .seconds(15)]
    public var logLevel: Logger.Level = .info
    public var logFormat: Settings.LogFormat = .json

    public init(signingSecret: String) {
        self.signingSecret = signingSecret
    }

    /// `{"ok":…}` answers and the pages link here.
    public var origin: String { "http://127.0.0.1:\(port)" }

    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> Self {
        func value(_ name: String) -> String? {
            environment[name].map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        func port(_ name: String, _ fallback: Int) throws(ConfigurationError) -> Int {
            guard let text = value(name) else { return fallback }
            guard let port = Int(text), (1...65535).contains(port) else {
                throw ConfigurationError(name, "must be a port number from 1 to 65535")
            }
            return port
        }
        if value("ENABLEBOT_ENV") == "production" {
            throw ConfigurationError("ENABLEBOT_ENV", "is production: the Slack emulator is for development only")
        }
        let dataDirectory = value("ENABLEBOT_DATA_DIR") ?? "data"
        let secret: String
        if let configured = value("SLACK_SIGNING_SECRET") {
            secret = configured
        } else {
            secret = try Settings.developmentSigningSecret(dataDirectory: dataDirectory)
        }
        var c = EmulatorConfiguration(signingSecret: secret)
        c.host = value("HOST") ?? c.host
        c.port = try port("EMULATOR_PORT", c.port)
        let apiPort = try port("API_PORT", 8001)
        c.eventsURL = value("EMULATOR_EVENTS_URL") ?? "http://127.0.0.1:\(apiPort)/slack/events"
        c.commandsURL = value("EMULATOR_COMMANDS_URL") ?? "http://127.0.0.1:\(apiPort)/slack/commands"
        for (name, url) in [("EMULATOR_EVENTS_URL", c.eventsURL), ("EMULATOR_COMMANDS_URL", c.commandsURL)]
            where !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ConfigurationError(name, "must be an http(s) URL")
        }
        let webPort = try port("WEB_PORT", 8000)
        c.appInstallURL = value("EMULATOR_APP_INSTALL_URL") ?? "http://localhost:\(webPort)/slack/install"
        switch value("EMULATOR_DATA_FILE") {
        case "none", "memory": c.dataFile = nil
        case let file?: c.dataFile = file
        case nil: c.dataFile = dataDirectory + "/emulator.json"
        }
        c.clientID = value("SLACK_CLIENT_ID") ?? c.clientID
        c.clientSecret = value("SLACK_CLIENT_SECRET") ?? c.clientSecret
        if let level = value("LOG_LEVEL") {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigurationError("LOG_LEVEL", "must be one of trace, debug, info, notice, warning, error, critical")
            }
            c.logLevel = parsed
        }
        if let format = value("LOG_FORMAT") {
            guard let parsed = Settings.LogFormat(rawValue: format) else { throw ConfigurationError("LOG_FORMAT", "must be json or text") }
            c.logFormat = parsed
        }
        return c
    }
}
