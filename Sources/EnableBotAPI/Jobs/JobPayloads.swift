import EnableBotCore
import Foundation

/// The kinds of job the ack path stores and the worker runs.
enum JobKind {
    /// Answer a mention, a DM or a slash command with the model.
    static let answer = "slack.answer"
    /// Record an uninstall or token revocation (the tenant is already deactivated on the ack path).
    static let lifecycle = "slack.lifecycle"
}

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

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id", tenantID = "tenant_id", userID = "user_id", channelID = "channel_id", text
        case replyThreadTS = "reply_thread_ts", memoryThreadTS = "memory_thread_ts", command
    }
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
