import Foundation

/// The outer JSON Slack POSTs to the events URL: `url_verification`, `event_callback`, or a type we do not use.
/// Only `type` (and the inner event's `type`) must be present; a field of an unexpected JSON type reads as absent,
/// and unknown fields are ignored, so Slack adding or changing fields never breaks reading. The body must still be
/// well-formed JSON throughout.
public struct SlackEventEnvelope: Sendable, Equatable {
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
    public struct Authorization: Sendable, Equatable {
        public var enterpriseID: String?
        public var teamID: String?
        public var userID: String?
        public var isBot: Bool?
        public var isEnterpriseInstall: Bool?
    }

    /// Reads Slack's JSON. Throws `SlackPayloadError` when it is not JSON, or not an envelope (no string `type`,
    /// an `event` that is not an object with a string `type`).
    public init(json: String) throws(SlackPayloadError) {
        try self.init { try JSONByteReader.read(json, $0) }
    }

    /// The same from the raw body; nil when it is not UTF-8.
    public init?(utf8 body: [UInt8]) throws(SlackPayloadError) {
        guard JSONByteReader.isValidUTF8(body) else { return nil }
        try self.init { try JSONByteReader.read(validUTF8: body, $0) }
    }

    private init(reading read: ((inout JSONByteReader) throws -> SlackEventEnvelope) throws -> SlackEventEnvelope) throws(SlackPayloadError) {
        do {
            self = try read { try Self(reading: &$0) }
        } catch let error as JSONByteReader.Malformed {
            throw SlackPayloadError(reason: error.description)
        } catch let error as SlackPayloadError {
            throw error
        } catch {
            throw SlackPayloadError(reason: "\(error)")
        }
    }

    private init(reading reader: inout JSONByteReader) throws {
        guard try reader.kind() == .object else { throw SlackPayloadError(reason: "not a JSON object") }
        var type: String?
        var envelope = SlackEventEnvelope(type: "")
        try reader.readObject { reader, key in
            switch key {
            case "type": type = try reader.readStringIfPresent()
            case "challenge": envelope.challenge = try reader.readStringIfPresent()
            case "team_id": envelope.teamID = try reader.readStringIfPresent()
            case "enterprise_id": envelope.enterpriseID = try reader.readStringIfPresent()
            case "is_enterprise_install": envelope.isEnterpriseInstall = try reader.readBoolIfPresent()
            case "api_app_id": envelope.apiAppID = try reader.readStringIfPresent()
            case "event_id": envelope.eventID = try reader.readStringIfPresent()
            case "event_time": envelope.eventTime = try reader.readIntegerIfPresent()
            case "event":
                if reader.readNull() { envelope.event = nil } else { envelope.event = try SlackEvent(reading: &reader) }
            case "authorizations": envelope.authorizations = try Authorization.readList(&reader)
            default: try reader.skipValue()
            }
        }
        guard let type else { throw SlackPayloadError(reason: "no string \"type\"") }
        envelope.type = type
        self = envelope
    }

    init(type: String) {
        self.type = type
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

extension SlackEventEnvelope.Authorization {
    /// An array of authorization objects; anything else (or an element that is not an object) reads as absent.
    static func readList(_ reader: inout JSONByteReader) throws -> [Self]? {
        guard try reader.kind() == .array else {
            try reader.skipValue()
            return nil
        }
        var list: [Self]? = []
        try reader.readArray { reader in
            guard try reader.kind() == .object else {
                try reader.skipValue()
                list = nil
                return
            }
            var entry = Self()
            try reader.readObject { reader, key in
                switch key {
                case "enterprise_id": entry.enterpriseID = try reader.readStringIfPresent()
                case "team_id": entry.teamID = try reader.readStringIfPresent()
                case "user_id": entry.userID = try reader.readStringIfPresent()
                case "is_bot": entry.isBot = try reader.readBoolIfPresent()
                case "is_enterprise_install": entry.isEnterpriseInstall = try reader.readBoolIfPresent()
                default: try reader.skipValue()
                }
            }
            list?.append(entry)
        }
        return list
    }
}

/// Slack sent something that is not the payload it should be (bad JSON, missing `type`).
public struct SlackPayloadError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// The inner `event` of an `event_callback`: the fields EnableBot reads of messages, mentions and lifecycle events.
public struct SlackEvent: Sendable, Equatable {
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
    /// `assistant_thread_started` / `assistant_thread_context_changed`: the thread and what the user is looking at.
    public var assistantThread: AssistantThread?

    public struct RevokedTokens: Sendable, Equatable {
        public var oauth: [String]?
        public var bot: [String]?
    }

    /// Slack's `assistant_thread` object: the user's assistant thread (in their DM with the app, `channel_id`) and
    /// the `context`, the channel (and team, enterprise) the user had open beside it. Every field may be absent.
    public struct AssistantThread: Sendable, Equatable {
        public var userID: String?
        /// The DM channel the thread lives in.
        public var channelID: String?
        public var threadTS: String?
        /// Where the user is in Slack while the assistant container is open; absent when Slack sends none.
        public var context: AssistantThreadContext?

        public init(userID: String? = nil, channelID: String? = nil, threadTS: String? = nil, context: AssistantThreadContext? = nil) {
            self.userID = userID
            self.channelID = channelID
            self.threadTS = threadTS
            self.context = context
        }
    }

    public init(
        type: String, subtype: String? = nil, user: String? = nil, botID: String? = nil, text: String? = nil,
        channel: String? = nil, channelType: String? = nil, ts: String? = nil, threadTS: String? = nil,
        tokens: RevokedTokens? = nil, assistantThread: AssistantThread? = nil
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
        self.assistantThread = assistantThread
    }

    /// Lenient: a field of an unexpected JSON type reads as absent rather than failing the whole event.
    init(reading reader: inout JSONByteReader) throws {
        guard try reader.kind() == .object else { throw SlackPayloadError(reason: "\"event\" is not an object") }
        var type: String?
        var event = SlackEvent(type: "")
        try reader.readObject { reader, key in
            switch key {
            case "type": type = try reader.readStringIfPresent()
            case "subtype": event.subtype = try reader.readStringIfPresent()
            case "user": event.user = try reader.readStringIfPresent()
            case "bot_id": event.botID = try reader.readStringIfPresent()
            case "text": event.text = try reader.readStringIfPresent()
            case "channel": event.channel = try reader.readStringIfPresent()
            case "channel_type": event.channelType = try reader.readStringIfPresent()
            case "ts": event.ts = try reader.readStringIfPresent()
            case "thread_ts": event.threadTS = try reader.readStringIfPresent()
            case "tokens": event.tokens = try RevokedTokens.read(&reader)
            case "assistant_thread": event.assistantThread = try AssistantThread.read(&reader)
            default: try reader.skipValue()
            }
        }
        guard let type else { throw SlackPayloadError(reason: "event without a string \"type\"") }
        event.type = type
        self = event
    }

    public var isDirectMessage: Bool { type == "message" && channelType == "im" }

    /// Events that change the installation itself and are handled even for an inactive tenant.
    public var isLifecycle: Bool { type == "app_uninstalled" || type == "tokens_revoked" }

    /// `assistant_thread_started` or `assistant_thread_context_changed` (Slack's AI app surface).
    public var isAssistantThreadEvent: Bool {
        type == "assistant_thread_started" || type == "assistant_thread_context_changed"
    }
}

extension SlackEvent.AssistantThread {
    /// `{"user_id", "channel_id", "thread_ts", "context": {"channel_id", "team_id", "enterprise_id"}}`; anything not an
    /// object reads as absent, and so does each member of an unexpected type (`enterprise_id` is often `null`).
    static func read(_ reader: inout JSONByteReader) throws -> Self? {
        guard try reader.kind() == .object else {
            try reader.skipValue()
            return nil
        }
        var thread = Self()
        try reader.readObject { reader, key in
            switch key {
            case "user_id": thread.userID = try reader.readStringIfPresent()
            case "channel_id": thread.channelID = try reader.readStringIfPresent()
            case "thread_ts": thread.threadTS = try reader.readStringIfPresent()
            case "context": thread.context = try AssistantThreadContext.read(&reader)
            default: try reader.skipValue()
            }
        }
        return thread
    }
}

extension AssistantThreadContext {
    static func read(_ reader: inout JSONByteReader) throws -> Self? {
        guard try reader.kind() == .object else {
            try reader.skipValue()
            return nil
        }
        var context = Self()
        try reader.readObject { reader, key in
            switch key {
            case "channel_id": context.channelID = try reader.readStringIfPresent()
            case "team_id": context.teamID = try reader.readStringIfPresent()
            case "enterprise_id": context.enterpriseID = try reader.readStringIfPresent()
            default: try reader.skipValue()
            }
        }
        return context
    }
}

extension SlackEvent.RevokedTokens {
    /// `{"oauth": [user ids], "bot": [user ids]}`; anything of another shape reads as absent.
    static func read(_ reader: inout JSONByteReader) throws -> Self? {
        guard try reader.kind() == .object else {
            try reader.skipValue()
            return nil
        }
        var tokens = Self()
        var wellFormed = true
        try reader.readObject { reader, key in
            switch key {
            case "oauth", "bot":
                var ids: [String]?
                if !reader.readNull() {
                    ids = try Self.readIDs(&reader)
                    if ids == nil { wellFormed = false }
                }
                if key == "oauth" { tokens.oauth = ids } else { tokens.bot = ids }
            default: try reader.skipValue()
            }
        }
        return wellFormed ? tokens : nil
    }

    private static func readIDs(_ reader: inout JSONByteReader) throws -> [String]? {
        guard try reader.kind() == .array else {
            try reader.skipValue()
            return nil
        }
        var ids: [String]? = []
        try reader.readArray { reader in
            if let id = try reader.readStringIfPresent() { ids?.append(id) } else { ids = nil }
        }
        return ids
    }
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
