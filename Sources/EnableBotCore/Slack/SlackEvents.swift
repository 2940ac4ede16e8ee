import Foundation

/// The outer JSON Slack POSTs to the events URL: `url_verification`, `event_callback`, or a type we do not use.
/// Every field is optional and unknown fields are ignored, so Slack adding fields never breaks decoding.
public struct SlackEventEnvelope: Decodable, Sendable {
    public var type: String
    public var challenge: String?
    public var teamID: String?
    public var enterpriseID: String?
    public var isEnterpriseInstall: Bool?
    public var apiAppID: String?
    public var eventID: String?
    public var eventTime: Int64?
    public var event: SlackEvent?
    public var authorizations: [Authorization]?

    /// Who the event was delivered for; the first entry names the installation.
    public struct Authorization: Decodable, Sendable {
        public var enterpriseID: String?
        public var teamID: String?
        public var userID: String?
        public var isBot: Bool?
        public var isEnterpriseInstall: Bool?

        enum CodingKeys: String, CodingKey {
            case enterpriseID = "enterprise_id", teamID = "team_id", userID = "user_id", isBot = "is_bot"
            case isEnterpriseInstall = "is_enterprise_install"
        }
    }

    enum CodingKeys: String, CodingKey {
        case type, challenge, event, authorizations
        case teamID = "team_id", enterpriseID = "enterprise_id", isEnterpriseInstall = "is_enterprise_install"
        case apiAppID = "api_app_id", eventID = "event_id", eventTime = "event_time"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(String.self, forKey: .type)
        challenge = try? c.decodeIfPresent(String.self, forKey: .challenge)
        teamID = try? c.decodeIfPresent(String.self, forKey: .teamID)
        enterpriseID = try? c.decodeIfPresent(String.self, forKey: .enterpriseID)
        isEnterpriseInstall = try? c.decodeIfPresent(Bool.self, forKey: .isEnterpriseInstall)
        apiAppID = try? c.decodeIfPresent(String.self, forKey: .apiAppID)
        eventID = try? c.decodeIfPresent(String.self, forKey: .eventID)
        eventTime = try? c.decodeIfPresent(Int64.self, forKey: .eventTime)
        event = try c.decodeIfPresent(SlackEvent.self, forKey: .event)
        authorizations = try? c.decodeIfPresent([Authorization].self, forKey: .authorizations)
    }

    /// The team, enterprise and org-wide flag that select the installation: the authorization's when present,
    /// else the envelope's own.
    public var installationKey: (teamID: String?, enterpriseID: String?, isEnterpriseInstall: Bool) {
        let first = authorizations?.first
        return (
            first?.teamID ?? teamID,
            first?.enterpriseID ?? enterpriseID,
            first?.isEnterpriseInstall ?? isEnterpriseInstall ?? false
        )
    }
}

/// The inner `event` of an `event_callback`: the fields EnableBot reads of messages, mentions and lifecycle events.
public struct SlackEvent: Codable, Sendable, Equatable {
    public var type: String
    public var subtype: String?
    public var user: String?
    public var botID: String?
    public var text: String?
    public var channel: String?
    public var channelType: String?
    public var ts: String?
    public var threadTS: String?
    /// `tokens_revoked`: the user ids whose user tokens (`oauth`) and bot tokens (`bot`) were revoked.
    public var tokens: RevokedTokens?

    public struct RevokedTokens: Codable, Sendable, Equatable {
        public var oauth: [String]?
        public var bot: [String]?
    }

    enum CodingKeys: String, CodingKey {
        case type, subtype, user, text, channel, ts, tokens
        case botID = "bot_id", channelType = "channel_type", threadTS = "thread_ts"
    }

    public init(
        type: String, subtype: String? = nil, user: String? = nil, botID: String? = nil, text: String? = nil,
        channel: String? = nil, channelType: String? = nil, ts: String? = nil, threadTS: String? = nil,
        tokens: RevokedTokens? = nil
    ) {
        self.type = type
        self.subtype = subtype
        self.user = user
        self.botID = botID
        self.text = text
        self.channel = channel
        self.channelType = channelType
        self.ts = ts
        self.threadTS = threadTS
        self.tokens = tokens
    }

    /// Lenient: a field of an unexpected JSON type reads as absent rather than failing the whole event.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(String.self, forKey: .type)
        subtype = try? c.decodeIfPresent(String.self, forKey: .subtype)
        user = try? c.decodeIfPresent(String.self, forKey: .user)
        botID = try? c.decodeIfPresent(String.self, forKey: .botID)
        text = try? c.decodeIfPresent(String.self, forKey: .text)
        channel = try? c.decodeIfPresent(String.self, forKey: .channel)
        channelType = try? c.decodeIfPresent(String.self, forKey: .channelType)
        ts = try? c.decodeIfPresent(String.self, forKey: .ts)
        threadTS = try? c.decodeIfPresent(String.self, forKey: .threadTS)
        tokens = try? c.decodeIfPresent(RevokedTokens.self, forKey: .tokens)
    }

    public var isDirectMessage: Bool { type == "message" && channelType == "im" }

    /// Events that change the installation itself and are handled even for an inactive tenant.
    public var isLifecycle: Bool { type == "app_uninstalled" || type == "tokens_revoked" }
}

/// A slash command as Slack POSTs it (form-encoded).
public struct SlackCommand: Codable, Sendable, Equatable {
    public var command: String
    public var text: String
    public var teamID: String?
    public var enterpriseID: String?
    public var isEnterpriseInstall: Bool
    public var channelID: String
    public var userID: String
    public var triggerID: String?
    public var responseURL: String?

    enum CodingKeys: String, CodingKey {
        case command, text
        case teamID = "team_id", enterpriseID = "enterprise_id", isEnterpriseInstall = "is_enterprise_install"
        case channelID = "channel_id", userID = "user_id", triggerID = "trigger_id", responseURL = "response_url"
    }

    /// Reads the decoded form fields; nil when a required one (`command`, `channel_id`, `user_id`) is missing.
    public init?(form: [String: String]) {
        guard let command = form["command"], let channel = form["channel_id"], let user = form["user_id"],
              !channel.isEmpty, !user.isEmpty else { return nil }
        self.command = command
        self.text = form["text"] ?? ""
        self.teamID = form["team_id"].flatMap { $0.isEmpty ? nil : $0 }
        self.enterpriseID = form["enterprise_id"].flatMap { $0.isEmpty ? nil : $0 }
        self.isEnterpriseInstall = form["is_enterprise_install"] == "true"
        self.channelID = channel
        self.userID = user
        self.triggerID = form["trigger_id"]
        self.responseURL = form["response_url"]
    }
}
