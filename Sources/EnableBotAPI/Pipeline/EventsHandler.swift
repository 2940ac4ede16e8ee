import EnableBotCore
import EnableBotHTTP
import Foundation
import Hummingbird
import Logging
import Metrics

/// The last step of `POST /slack/events`: decide, store, acknowledge. Nothing here waits on Slack or the model:
/// an accepted event is decided once (`BotJob`: only what the worker needs, never Slack's envelope with its legacy
/// verification token), claimed by its `event_id` and stored as a job in one transaction, group-committed with its
/// neighbours, then answered 200.
struct EventsHandler: Sendable {
    let stores: Stores
    let authorizer: InstallationAuthorizer
    let claims: ProcessedEvents
    let signal: JobSignal

    func handle(_ request: SlackRequest, outcome: inout SlackOutcome) async throws -> Response {
        let result = try await decide(request)
        outcome.result = result
        Self.counter(result).increment()
        return Response(status: .ok)
    }

    private func decide(_ request: SlackRequest) async throws -> String {
        guard case .event(let envelope) = request.inbound else { throw SlackRequestError.malformed("not a Slack event") }
        let installation = request.authorized.installation
        guard let event = envelope.event, let eventID = envelope.eventID, !eventID.isEmpty else {
            throw SlackRequestError.malformed("event_callback without event or event_id")
        }
        if event.isLifecycle {
            return try await lifecycle(event, eventID: eventID, installation: installation)
        }
        guard installation.status == .active else { return "ignored:inactive_team" }
        if event.isAssistantThreadEvent {
            guard let job = AssistantThreadJob(eventID: eventID, tenantID: installation.tenantID, event: event) else {
                return "ignored:incomplete_event"
            }
            return try await accept(eventID: eventID, tenantID: installation.tenantID, .assistantThread(job))
        }
        if let reason = AnswerJob.ignoreReason(event) { return "ignored:" + reason }
        guard let job = AnswerJob(eventID: eventID, tenantID: installation.tenantID, event: event) else {
            return "ignored:incomplete_event"
        }
        return try await accept(eventID: eventID, tenantID: installation.tenantID, .answer(job))
    }

    /// `app_uninstalled` / `tokens_revoked`: deactivate and delete the tokens before acknowledging (idempotent, so a
    /// retry or the other event arriving first changes nothing), then record it durably once.
    private func lifecycle(_ event: SlackEvent, eventID: String, installation: Installation) async throws -> String {
        let tenantID = installation.tenantID
        let revokesBot = event.type == "app_uninstalled" || event.tokens?.bot?.isEmpty == false || event.tokens == nil
        let detail: String
        if revokesBot {
            try await stores.installations.deactivateAndDeleteTokens(tenantID: tenantID)
            authorizer.invalidate(tenantID: tenantID)
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
        return try await accept(eventID: eventID, tenantID: tenantID, .lifecycle(job))
    }

    private func accept(eventID: String, tenantID: String, _ job: BotJob) async throws -> String {
        let claim = EventClaim(eventID: eventID, tenantID: tenantID, kind: job.kind.rawValue) { job.payload }
        guard try await claims.claimAndEnqueue(grouped: claim) != nil else { return "duplicate" }
        signal.notify()
        return "accepted"
    }

    private static let counters: [String: Counter] = Dictionary(uniqueKeysWithValues: [
        "accepted", "duplicate", "url_verification", "ignored:unknown_envelope_type", "ignored:unknown_team",
        "ignored:inactive_team", "ignored:bot_message", "ignored:own_message", "ignored:subtype",
        "ignored:unhandled_event_type", "ignored:incomplete_event",
    ].map { ($0, Counter(label: "slack_events_total", dimensions: [("outcome", $0)])) })

    static func counter(_ outcome: String) -> Counter {
        counters[outcome] ?? Counter(label: "slack_events_total", dimensions: [("outcome", outcome)])
    }
}
