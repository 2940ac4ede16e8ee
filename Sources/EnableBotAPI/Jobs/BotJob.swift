import EnableBotCore
import Foundation

/// What the worker is to do for one acknowledged event, decided once on the ack path and stored with the job:
/// only the fields the work needs, never Slack's envelope (which carries the legacy verification token). The
/// worker switches over it and never parses Slack's JSON.
///
/// Stored as the job's `kind` column (for counts and the dashboard) and its payload, a JSON object whose `type`
/// says the same. The payload of an answer is written by hand (`AnswerJob.jsonPayload`): one per accepted event.
enum BotJob: Sendable, Equatable, Codable {
    /// Answer a mention, a DM or a slash command with the model.
    case answer(AnswerJob)
    /// Record an uninstall or token revocation (the tenant was deactivated on the ack path already).
    case lifecycle(LifecycleJob)
    /// Remember an assistant thread and its context; greet a new one and offer the workspace's suggested prompts.
    case assistantThread(AssistantThreadJob)

    enum Kind: String, Sendable {
        case answer = "slack.answer"
        case lifecycle = "slack.lifecycle"
        case assistantThread = "slack.assistant_thread"
        /// Written by earlier versions for mentions and DMs: Slack's whole envelope, token included. No longer
        /// written; a worker that finds one turns it into an `answer` first (`AnswerHandler.convertLegacyEvent`).
        case legacyEvent = "slack.event"
    }

    var kind: Kind {
        switch self {
        case .answer: .answer
        case .lifecycle: .lifecycle
        case .assistantThread: .assistantThread
        }
    }

    /// The payload to store.
    var payload: String {
        switch self {
        case .answer(let job): job.jsonPayload
        case .lifecycle, .assistantThread: (try? JobPayload.encode(self)) ?? "{}"
        }
    }

    /// The job a stored row holds. Rows written before the payload carried `type` are read by their kind column.
    init(kind: String, payload: String) throws {
        switch Kind(rawValue: kind) {
        case .answer: self = .answer(try AnswerJob(jsonPayload: payload))
        case .lifecycle: self = .lifecycle(try JobPayload.decode(LifecycleJob.self, payload))
        case .assistantThread: self = .assistantThread(try JobPayload.decode(AssistantThreadJob.self, payload))
        case .legacyEvent, nil: throw UnknownJobKind(kind: kind)
        }
    }

    struct UnknownJobKind: Error, CustomStringConvertible {
        let kind: String
        var description: String { "unknown job kind \(kind)" }
    }

    private enum TypeKey: String, CodingKey { case type }

    init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: TypeKey.self).decode(String.self, forKey: .type)
        switch Kind(rawValue: type) {
        case .answer: self = .answer(try AnswerJob(from: decoder))
        case .lifecycle: self = .lifecycle(try LifecycleJob(from: decoder))
        case .assistantThread: self = .assistantThread(try AssistantThreadJob(from: decoder))
        case .legacyEvent, nil:
            throw DecodingError.dataCorruptedError(forKey: .type, in: try decoder.container(keyedBy: TypeKey.self),
                                                   debugDescription: "unknown job type \(type)")
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: TypeKey.self)
        try container.encode(kind.rawValue, forKey: .type)
        switch self {
        case .answer(let job): try job.encode(to: encoder)
        case .lifecycle(let job): try job.encode(to: encoder)
        case .assistantThread(let job): try job.encode(to: encoder)
        }
    }
}
