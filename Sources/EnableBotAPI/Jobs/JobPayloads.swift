import EnableBotCore
import Foundation

/// Everything needed to answer one message, stored as the job's payload so it survives a restart.
struct AnswerJob: Codable, Sendable, Equatable {
    var eventID: String
    var tenantID: String
    var userID: String
    var channelID: String
    var text: String
    /// The thread to reply in; nil posts at the top level (a DM outside a thread, a slash command).
    var replyThreadTS: String?
    /// The chat memory thread; nil keeps no memory (slash commands).
    var memoryThreadTS: String?
    /// The slash command that asked, if any: the answer then says who asked what.
    var command: String?
    /// The message opened its thread (a mention at the top level of a channel): the thread has no earlier turns, so
    /// the worker does not look for them. Nil (as in jobs stored by earlier versions) looks.
    var opensThread: Bool? = nil

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", tenantID = "tenant_id", userID = "user_id", channelID = "channel_id", text
        case replyThreadTS = "reply_thread_ts", memoryThreadTS = "memory_thread_ts", command, opensThread = "opens_thread"
    }
}

extension AnswerJob {
    /// Why an event (not from a bot: the pipeline's `IgnoreBotMessages` step dropped those) gets no answer, or nil
    /// when it does.
    static func ignoreReason(_ event: SlackEvent) -> String? {
        if event.subtype != nil { return "subtype" }
        // Channel messages that mention the bot also arrive as app_mention; answering both would answer twice.
        guard event.type == "app_mention" || event.isDirectMessage else { return "unhandled_event_type" }
        guard event.user != nil, event.channel != nil, event.ts != nil else { return "incomplete_event" }
        return nil
    }

    /// The answer an accepted event asks for: a mention is answered in its thread (`thread_ts`, else its `ts`);
    /// a DM in the DM, where the conversation is one memory unless the user replies in a thread.
    init?(eventID: String, tenantID: String, event: SlackEvent) {
        guard let user = event.user, let channel = event.channel, let ts = event.ts else { return nil }
        if event.isDirectMessage {
            self.init(eventID: eventID, tenantID: tenantID, userID: user, channelID: channel, text: event.text ?? "",
                      replyThreadTS: event.threadTS, memoryThreadTS: event.threadTS ?? "im", command: nil)
        } else {
            let thread = event.threadTS ?? ts
            self.init(eventID: eventID, tenantID: tenantID, userID: user, channelID: channel, text: event.text ?? "",
                      replyThreadTS: thread, memoryThreadTS: thread, command: nil, opensThread: event.threadTS == nil ? true : nil)
        }
    }
}

extension AnswerJob {
    /// The job's JSON, written by hand because the ack path writes one per accepted event and is kept free of
    /// Foundation's coders (see `JSONByteReader`). `JobPayload.decode` reads it back; a test holds the two together.
    var jsonPayload: String {
        var json = JSONObjectWriter()
        json.add("type", BotJob.Kind.answer.rawValue)
        json.add("event_id", eventID)
        json.add("tenant_id", tenantID)
        json.add("user_id", userID)
        json.add("channel_id", channelID)
        json.add("text", text)
        json.add("reply_thread_ts", replyThreadTS)
        json.add("memory_thread_ts", memoryThreadTS)
        json.add("command", command)
        json.add("opens_thread", opensThread)
        return json.finished
    }
}

extension AnswerJob {
    /// Reads `jsonPayload` back with `JSONByteReader`: the worker reads one per answer, and `JSONDecoder` cost a
    /// fiftieth of an answer's CPU. As strict as the decoder: the five text members must be there, as text.
    init(jsonPayload payload: String) throws {
        var texts = [String?](repeating: nil, count: 8)
        var opensThread: Bool?
        try JSONByteReader.read(payload) { reader in
            guard try reader.kind() == .object else { throw reader.malformed("a job is a JSON object") }
            try reader.readObject { reader, key in
                let slot: Int
                switch key {
                case "event_id": slot = 0
                case "tenant_id": slot = 1
                case "user_id": slot = 2
                case "channel_id": slot = 3
                case "text": slot = 4
                case "reply_thread_ts": slot = 5
                case "memory_thread_ts": slot = 6
                case "command": slot = 7
                case "opens_thread":
                    opensThread = reader.readNull() ? nil : try reader.readBool()
                    return
                default: return try reader.skipValue()
                }
                texts[slot] = try reader.readNullableString()
            }
        }
        guard let eventID = texts[0], let tenantID = texts[1], let userID = texts[2], let channelID = texts[3], let text = texts[4] else {
            throw JobPayloadMissing(kind: BotJob.Kind.answer.rawValue)
        }
        self.init(eventID: eventID, tenantID: tenantID, userID: userID, channelID: channelID, text: text,
                  replyThreadTS: texts[5], memoryThreadTS: texts[6], command: texts[7], opensThread: opensThread)
    }
}

struct JobPayloadMissing: Error, CustomStringConvertible {
    let kind: String
    var description: String { "a \(kind) job's payload lacks a required member" }
}

struct LifecycleJob: Codable, Sendable, Equatable {
    var eventID: String
    var tenantID: String
    var eventType: String
    var detail: String

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", tenantID = "tenant_id", eventType = "event_type", detail
    }
}

/// An assistant thread was opened (`assistant_thread_started`) or the user moved elsewhere in Slack while it was
/// open (`assistant_thread_context_changed`): what the worker needs to remember the thread, and to greet a new one.
struct AssistantThreadJob: Codable, Sendable, Equatable {
    enum EventType: String, Codable, Sendable {
        case started = "assistant_thread_started"
        case contextChanged = "assistant_thread_context_changed"
    }

    var eventID: String
    var tenantID: String
    var eventType: EventType
    /// Who opened the thread.
    var userID: String
    /// The DM channel between the user and the app that holds the thread.
    var channelID: String
    var threadTS: String
    /// The channel (team, enterprise) the user was looking at; nil when Slack sent none.
    var contextChannelID: String?
    var contextTeamID: String?
    var contextEnterpriseID: String?

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", tenantID = "tenant_id", eventType = "event_type", userID = "user_id"
        case channelID = "channel_id", threadTS = "thread_ts", contextChannelID = "context_channel_id"
        case contextTeamID = "context_team_id", contextEnterpriseID = "context_enterprise_id"
    }

    /// The job an assistant thread event asks for; nil when it is not one, or lacks the user, channel or thread
    /// (nothing could be said or stored without them).
    init?(eventID: String, tenantID: String, event: SlackEvent) {
        guard let eventType = EventType(rawValue: event.type), let thread = event.assistantThread,
              let user = thread.userID, !user.isEmpty, let channel = thread.channelID, !channel.isEmpty,
              let threadTS = thread.threadTS, !threadTS.isEmpty
        else { return nil }
        self.init(
            eventID: eventID, tenantID: tenantID, eventType: eventType, userID: user, channelID: channel, threadTS: threadTS,
            contextChannelID: thread.context?.channelID, contextTeamID: thread.context?.teamID,
            contextEnterpriseID: thread.context?.enterpriseID
        )
    }

    init(
        eventID: String, tenantID: String, eventType: EventType, userID: String, channelID: String, threadTS: String,
        contextChannelID: String? = nil, contextTeamID: String? = nil, contextEnterpriseID: String? = nil
    ) {
        self.eventID = eventID
        self.tenantID = tenantID
        self.eventType = eventType
        self.userID = userID
        self.channelID = channelID
        self.threadTS = threadTS
        self.contextChannelID = contextChannelID
        self.contextTeamID = contextTeamID
        self.contextEnterpriseID = contextEnterpriseID
    }

    /// The context as the store keeps it.
    var context: AssistantThreadContext {
        AssistantThreadContext(channelID: contextChannelID, teamID: contextTeamID, enterpriseID: contextEnterpriseID)
    }
}

enum JobPayload {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ payload: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(payload.utf8))
    }
}
