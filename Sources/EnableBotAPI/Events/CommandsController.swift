import EnableBotCore
import EnableBotHTTP
import Foundation
import Hummingbird
import Logging
import Metrics

/// `POST /slack/commands`: `/ask <question>` is acknowledged at once with an ephemeral "Thinking…" (the HTTP
/// answer itself), and the model's answer is posted in the channel by the worker.
struct CommandsController: Sendable {
    let stores: Stores
    let logger: Logger
    let gate: SlackRequestGate
    let directory: InstallationDirectory
    let signal: JobSignal


    func addRoutes(to router: Router<some RequestContext>) {
        router.post("/slack/commands") { request, _ in try await self.receive(request) }
    }

    private struct Ephemeral: Encodable {
        var responseType = "ephemeral"
        var text: String
        enum CodingKeys: String, CodingKey { case responseType = "response_type", text }
    }

    func receive(_ incoming: Request) async throws -> Response {
        let start = ContinuousClock.now
        var metadata: Logger.Metadata = [:]
        let response = try await respond(incoming, metadata: &metadata)
        metadata["status"] = "200"
        metadata["duration_ms"] = "\((ContinuousClock.now - start).milliseconds)"
        logger.info("POST /slack/commands", metadata: metadata)
        return response
    }

    private func respond(_ incoming: Request, metadata: inout Logger.Metadata) async throws -> Response {
        var request = incoming
        let raw = try await gate.rawBody(&request)
        if SlackRequestGate.isSSLCheck(request, body: raw) {
            metadata["outcome"] = "ssl_check"
            return Response(status: .ok)
        }
        try gate.verifier.verify(
            timestamp: request.headers[.slackRequestTimestamp], signature: request.headers[.slackSignature], body: raw
        )
        guard SlackRequestGate.isForm(request) else {
            throw SlackRequestError.unsupportedContentType(expected: "application/x-www-form-urlencoded")
        }
        guard let text = String(validating: raw, as: UTF8.self), let form = FormEncoding.decode(text),
              let command = SlackCommand(form: form) else {
            throw SlackRequestError.malformed("body is not a Slack slash command")
        }
        metadata["user_id"] = "\(command.userID)"
        metadata["command"] = "\(command.command)"
        guard let installation = try await directory.find(
            teamID: command.teamID, enterpriseID: command.enterpriseID, isEnterpriseInstall: command.isEnterpriseInstall
        ), installation.status == .active else {
            Counter(label: "slack_commands_ignored_total", dimensions: [("reason", "unknown_or_inactive_team")]).increment()
            metadata["outcome"] = "ignored:unknown_or_inactive_team"
            return jsonResponse(Ephemeral(text: "EnableBot is not installed in this workspace (or was deactivated)."))
        }
        metadata["tenant_id"] = "\(installation.tenantID)"
        let question = command.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty else {
            metadata["outcome"] = "usage"
            return jsonResponse(Ephemeral(text: "Usage: `\(command.command) <question>`, e.g. `\(command.command) what is a sliding window?`"))
        }
        // Slash commands carry no event id; the trigger id is unique per invocation.
        let eventID = "command:" + (command.triggerID.flatMap { $0.isEmpty ? nil : $0 } ?? UUID().uuidString)
        metadata["event_id"] = "\(eventID)"
        let job = AnswerJob(
            eventID: eventID, tenantID: installation.tenantID, userID: command.userID, channelID: command.channelID,
            text: question, replyThreadTS: nil, memoryThreadTS: nil, command: command.command
        )
        if try await stores.processedEvents.claimAndEnqueue(
            eventID: eventID, tenantID: installation.tenantID, kind: JobKind.answer, payload: job.jsonPayload
        ) != nil {
            signal.notify()
            Counter(label: "slack_commands_accepted_total").increment()
            metadata["outcome"] = "accepted"
        } else {
            metadata["outcome"] = "duplicate"
        }
        return jsonResponse(Ephemeral(text: "Thinking…"))
    }
}
