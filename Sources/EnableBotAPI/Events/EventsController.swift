import EnableBotCore
import EnableBotHTTP
import Foundation
import Hummingbird
import Logging
import Metrics

/// `POST /slack/events`: verify, decide, store, acknowledge. Nothing here waits on Slack or the model: an
/// accepted event is claimed by its `event_id` and stored as a job in one transaction, then answered 200.
struct EventsController: Sendable {
    let runtime: CoreRuntime
    let gate: SlackRequestGate
    let directory: InstallationDirectory
    let signal: JobSignal

    private var logger: Logger { runtime.logger }

    func addRoutes(to router: Router<some RequestContext>) {
        router.post("/slack/events") { request, _ in try await self.receive(request) }
    }

    func receive(_ incoming: Request) async throws -> Response {
        var request = incoming
        let body = try await gate.verifiedBody(&request)
        guard SlackRequestGate.isJSON(request) else { throw SlackRequestError.unsupportedContentType(expected: "application/json") }
        let envelope: SlackEventEnvelope
        do {
            envelope = try JSONDecoder().decode(SlackEventEnvelope.self, from: Data(body))
        } catch {
            throw SlackRequestError.malformed("body is not a Slack event envelope")
        }
        switch envelope.type {
        case "url_verification":
            guard let challenge = envelope.challenge else { throw SlackRequestError.malformed("url_verification without challenge") }
            return jsonResponse(["challenge": challenge])
        case "event_callback":
            return try await eventCallback(envelope, retryNum: request.headers[.slackRetryNum])
        default:
            return ignored(reason: "unknown_envelope_type", metadata: ["type": "\(envelope.type)"])
        }
    }

    private func eventCallback(_ envelope: SlackEventEnvelope, retryNum: String?) async throws -> Response {
        guard let event = envelope.event, let eventID = envelope.eventID, !eventID.isEmpty else {
            throw SlackRequestError.malformed("event_callback without event or event_id")
        }
        var metadata: Logger.Metadata = ["event_id": "\(eventID)", "event_type": "\(event.type)"]
        if let retryNum { metadata["retry_num"] = "\(retryNum)" }
        let key = envelope.installationKey
        guard let installation = try await directory.find(
            teamID: key.teamID, enterpriseID: key.enterpriseID, isEnterpriseInstall: key.isEnterpriseInstall
        ) else {
            metadata["team_id"] = "\(key.teamID ?? key.enterpriseID ?? "")"
            return ignored(reason: "unknown_team", metadata: metadata)
        }
        let tenantID = installation.tenantID
        metadata["tenant_id"] = "\(tenantID)"

        if event.isLifecycle { return try await lifecycle(event, eventID: eventID, installation: installation, metadata: metadata) }
        guard installation.status == .active else { return ignored(reason: "inactive_team", metadata: metadata) }
        if let reason = Self.ignoreReason(event, installation: installation) { return ignored(reason: reason, metadata: metadata) }

        // Checked by ignoreReason: user, channel and ts are present.
        let user = event.user!, channel = event.channel!, ts = event.ts!
        metadata["user_id"] = "\(user)"
        let job: AnswerJob
        if event.isDirectMessage {
            // A DM is one conversation unless the user replies in a thread.
            job = AnswerJob(eventID: eventID, tenantID: tenantID, userID: user, channelID: channel, text: event.text ?? "",
                            replyThreadTS: event.threadTS, memoryThreadTS: event.threadTS ?? "im", command: nil)
        } else {
            let thread = event.threadTS ?? ts
            job = AnswerJob(eventID: eventID, tenantID: tenantID, userID: user, channelID: channel, text: event.text ?? "",
                            replyThreadTS: thread, memoryThreadTS: thread, command: nil)
        }
        return try await accept(eventID: eventID, tenantID: tenantID, kind: JobKind.answer, payload: try JobPayload.encode(job),
                                metadata: metadata)
    }

    /// Why an event gets no answer, or nil when it does.
    static func ignoreReason(_ event: SlackEvent, installation: Installation) -> String? {
        if event.botID != nil { return "bot_message" }
        if let user = event.user, !installation.botUserID.isEmpty, user == installation.botUserID { return "own_message" }
        if event.subtype != nil { return "subtype" }
        // Channel messages that mention the bot also arrive as app_mention; answering both would answer twice.
        guard event.type == "app_mention" || event.isDirectMessage else { return "unhandled_event_type" }
        guard event.user != nil, event.channel != nil, event.ts != nil else { return "incomplete_event" }
        return nil
    }

    /// `app_uninstalled` / `tokens_revoked`: deactivate and delete the tokens before acknowledging (idempotent, so a
    /// retry or the other event arriving first changes nothing), then record it durably once.
    private func lifecycle(_ event: SlackEvent, eventID: String, installation: Installation, metadata: Logger.Metadata) async throws -> Response {
        let tenantID = installation.tenantID
        let revokesBot = event.type == "app_uninstalled" || event.tokens?.bot?.isEmpty == false || event.tokens == nil
        let detail: String
        if revokesBot {
            try await runtime.installations.deactivateAndDeleteTokens(tenantID: tenantID)
            directory.invalidate(tenantID: tenantID)
            detail = "installation inactive, tokens deleted"
        } else {
            detail = "user tokens revoked for \(event.tokens?.oauth?.joined(separator: ",") ?? "")"
        }
        let job = LifecycleJob(eventID: eventID, tenantID: tenantID, eventType: event.type, detail: detail)
        return try await accept(eventID: eventID, tenantID: tenantID, kind: JobKind.lifecycle, payload: try JobPayload.encode(job),
                                metadata: metadata)
    }

    private func accept(eventID: String, tenantID: String, kind: String, payload: String, metadata: Logger.Metadata) async throws -> Response {
        guard try await runtime.processedEvents.claimAndEnqueue(eventID: eventID, tenantID: tenantID, kind: kind, payload: payload) != nil else {
            Counter(label: "slack_events_duplicate_total").increment()
            logger.info("duplicate event acknowledged", metadata: metadata)
            return Response(status: .ok)
        }
        signal.notify()
        Counter(label: "slack_events_accepted_total", dimensions: [("kind", kind)]).increment()
        logger.info("event accepted", metadata: metadata)
        return Response(status: .ok)
    }

    private func ignored(reason: String, metadata: Logger.Metadata) -> Response {
        Counter(label: "slack_events_ignored_total", dimensions: [("reason", reason)]).increment()
        logger.info("event ignored", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
        return Response(status: .ok)
    }
}
