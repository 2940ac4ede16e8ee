import EnableBotCore
import EnableBotHTTP
import Foundation
import Hummingbird
import Logging
import Metrics

/// `POST /slack/events`: verify, decide, store, acknowledge. Nothing here waits on Slack or the model: an
/// accepted event is claimed by its `event_id` and stored as a job (the `AnswerJob` decided here, never Slack's
/// envelope, which carries the legacy verification token) in one transaction, group-committed with its
/// neighbours, then answered 200. One log line per request.
struct EventsController: Sendable {
    let stores: Stores
    let logger: Logger
    let gate: SlackRequestGate
    let directory: InstallationDirectory
    let claims: ClaimBatcher
    let signal: JobSignal


    func addRoutes(to router: Router<some RequestContext>) {
        router.post("/slack/events") { request, _ in try await self.receive(request) }
    }

    /// What became of one request, for its log line and counters.
    private struct Outcome {
        var result: String
        var eventID: String?
        var tenantID: String?
        var userID: String?
        var eventType: String?
    }

    func receive(_ incoming: Request) async throws -> Response {
        let start = ContinuousClock.now
        var request = incoming
        let body = try await gate.verifiedBody(&request)
        guard SlackRequestGate.isJSON(request) else { throw SlackRequestError.unsupportedContentType(expected: "application/json") }
        guard let json = String(validating: body, as: UTF8.self) else { throw SlackRequestError.malformed("body is not UTF-8") }
        let envelope: SlackEventEnvelope
        do {
            envelope = try SlackEventEnvelope(json: json)
        } catch {
            throw SlackRequestError.malformed("body is not a Slack event envelope (\(error))")
        }
        let outcome: Outcome
        var response = Response(status: .ok)
        switch envelope.type {
        case "url_verification":
            guard let challenge = envelope.challenge else { throw SlackRequestError.malformed("url_verification without challenge") }
            response = jsonResponse(["challenge": challenge])
            outcome = Outcome(result: "url_verification")
        case "event_callback":
            outcome = try await eventCallback(envelope)
        default:
            outcome = Outcome(result: "ignored:unknown_envelope_type")
        }
        Self.counter(outcome.result).increment()
        var metadata: Logger.Metadata = [
            "status": "200", "duration_ms": "\((ContinuousClock.now - start).milliseconds)", "outcome": "\(outcome.result)",
        ]
        if let value = outcome.eventID { metadata["event_id"] = "\(value)" }
        if let value = outcome.tenantID { metadata["tenant_id"] = "\(value)" }
        if let value = outcome.userID { metadata["user_id"] = "\(value)" }
        if let value = outcome.eventType { metadata["event_type"] = "\(value)" }
        if let retry = request.headers[.slackRetryNum] { metadata["retry_num"] = "\(retry)" }
        logger.info("POST /slack/events", metadata: metadata)
        return response
    }

    private func eventCallback(_ envelope: SlackEventEnvelope) async throws -> Outcome {
        guard let event = envelope.event, let eventID = envelope.eventID, !eventID.isEmpty else {
            throw SlackRequestError.malformed("event_callback without event or event_id")
        }
        var outcome = Outcome(result: "", eventID: eventID, userID: event.user, eventType: event.type)
        let key = envelope.installationKey
        guard let installation = try await directory.find(
            teamID: key.teamID, enterpriseID: key.enterpriseID, isEnterpriseInstall: key.isEnterpriseInstall
        ) else {
            outcome.tenantID = key.teamID ?? key.enterpriseID
            outcome.result = "ignored:unknown_team"
            return outcome
        }
        outcome.tenantID = installation.tenantID
        if event.isLifecycle {
            outcome.result = try await lifecycle(event, eventID: eventID, installation: installation)
            return outcome
        }
        guard installation.status == .active else {
            outcome.result = "ignored:inactive_team"
            return outcome
        }
        if let reason = AnswerJob.ignoreReason(event, installation: installation) {
            outcome.result = "ignored:" + reason
            return outcome
        }
        // Decided here, once: the worker gets only what it needs to answer.
        guard let job = AnswerJob(eventID: eventID, tenantID: installation.tenantID, event: event) else {
            outcome.result = "ignored:incomplete_event"
            return outcome
        }
        outcome.result = try await accept(EventClaim(
            eventID: eventID, tenantID: installation.tenantID, kind: JobKind.answer, payload: job.jsonPayload
        ))
        return outcome
    }

    /// `app_uninstalled` / `tokens_revoked`: deactivate and delete the tokens before acknowledging (idempotent, so a
    /// retry or the other event arriving first changes nothing), then record it durably once.
    private func lifecycle(_ event: SlackEvent, eventID: String, installation: Installation) async throws -> String {
        let tenantID = installation.tenantID
        let revokesBot = event.type == "app_uninstalled" || event.tokens?.bot?.isEmpty == false || event.tokens == nil
        let detail: String
        if revokesBot {
            try await stores.installations.deactivateAndDeleteTokens(tenantID: tenantID)
            directory.invalidate(tenantID: tenantID)
            detail = "installation inactive, tokens deleted"
        } else {
            // Only user tokens: the one we hold is the installing user's; the bot stays installed and active.
            let users = event.tokens?.oauth ?? []
            if users.contains(installation.installerUserID), try await stores.installations.deleteUserToken(tenantID: tenantID) {
                detail = "user token of \(installation.installerUserID) deleted"
            } else {
                detail = "user tokens revoked for \(users.joined(separator: ",")); none held"
            }
        }
        let job = LifecycleJob(eventID: eventID, tenantID: tenantID, eventType: event.type, detail: detail)
        return try await accept(EventClaim(
            eventID: eventID, tenantID: tenantID, kind: JobKind.lifecycle, payload: try JobPayload.encode(job)
        ))
    }

    private func accept(_ claim: EventClaim) async throws -> String {
        guard try await claims.claim(claim) != nil else { return "duplicate" }
        signal.notify()
        return "accepted"
    }

    private static let counters: [String: Counter] = Dictionary(uniqueKeysWithValues: [
        "accepted", "duplicate", "url_verification", "ignored:unknown_envelope_type", "ignored:unknown_team",
        "ignored:inactive_team", "ignored:bot_message", "ignored:own_message", "ignored:subtype",
        "ignored:unhandled_event_type", "ignored:incomplete_event",
    ].map { ($0, Counter(label: "slack_events_total", dimensions: [("outcome", $0)])) })

    private static func counter(_ outcome: String) -> Counter {
        counters[outcome] ?? Counter(label: "slack_events_total", dimensions: [("outcome", outcome)])
    }
}
