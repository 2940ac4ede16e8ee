import EnableBotCore
import EnableBotHTTP
import Foundation
import Hummingbird
import Logging
import Metrics

/// The last step of `POST /slack/commands`: `/ask <question>` is acknowledged at once with an ephemeral
/// "Thinking…" (the HTTP answer itself), and the model's answer is posted in the channel by the worker. The job is
/// claimed through the same group commit as events (`ProcessedEvents.claimAndEnqueue(grouped:)`).
struct CommandsHandler: Sendable {
    let claims: ProcessedEvents
    let signal: JobSignal

    private struct Ephemeral: Encodable {
        var responseType = "ephemeral"
        var text: String
        enum CodingKeys: String, CodingKey { case responseType = "response_type", text }
    }

    static func notInstalled() -> Response {
        Counter(label: "slack_commands_ignored_total", dimensions: [("reason", "unknown_or_inactive_team")]).increment()
        return jsonResponse(Ephemeral(text: "EnableBot is not installed in this workspace (or was deactivated)."))
    }

    func handle(_ request: SlackRequest, outcome: inout SlackOutcome) async throws -> Response {
        guard case .command(let command) = request.inbound else { throw SlackRequestError.malformed("not a slash command") }
        let installation = request.authorized.installation
        guard installation.status == .active else {
            outcome.result = "ignored:unknown_or_inactive_team"
            return Self.notInstalled()
        }
        let question = command.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty else {
            outcome.result = "usage"
            return jsonResponse(Ephemeral(text: "Usage: `\(command.command) <question>`, e.g. `\(command.command) what is a sliding window?`"))
        }
        // Slash commands carry no event id; the trigger id is unique per invocation.
        let eventID = "command:" + (command.triggerID.flatMap { $0.isEmpty ? nil : $0 } ?? UUID().uuidString)
        outcome.eventID = eventID
        let job = AnswerJob(
            eventID: eventID, tenantID: installation.tenantID, userID: command.userID, channelID: command.channelID,
            text: question, replyThreadTS: nil, memoryThreadTS: nil, command: command.command
        )
        let claim = EventClaim(
            eventID: eventID, tenantID: installation.tenantID, kind: BotJob.Kind.answer.rawValue, payload: job.jsonPayload
        )
        if try await claims.claimAndEnqueue(grouped: claim) != nil {
            signal.notify()
            Counter(label: "slack_commands_accepted_total").increment()
            outcome.result = "accepted"
        } else {
            outcome.result = "duplicate"
        }
        return jsonResponse(Ephemeral(text: "Thinking…"))
    }
}
