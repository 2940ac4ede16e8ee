import EnableBotCore
import EnableBotHTTP
import Foundation
import Hummingbird
import Logging
import Metrics

/// The `/slack` routes: one chain of small steps, in the order Bolt runs its middleware, shared by events and
/// slash commands. Each step either answers (and the request ends there) or hands on what it learned:
///
/// 1. `respond`: one log line per request, with the outcome the steps below record.
/// 2. `readBody`: the raw body within `MAX_BODY_BYTES` (413).
/// 3. `answerSSLCheck`: Slack's `ssl_check=1` probe of a slash command URL (Slack sends it nowhere else), answered
///    200 before anything else, as Bolt does (it carries nothing and starts nothing).
/// 4. `verifySignature`: `v0` HMAC-SHA256 over the raw bytes, timestamp within 300 s (401).
/// 5. `parse`: the event envelope (JSON) or the command (form), parsed once (415, 400).
/// 6. `answerURLVerification`: the `challenge` of Slack's request URL check.
/// 7. `authorize`: the installation the request belongs to (Bolt's `authorize`); unknown workspaces end here.
/// 8. `ignoreBotMessages`: events from bots, the bot itself included, end here.
/// 9. The handler: `EventsHandler` or `CommandsHandler` decide the job and claim it, group-committed
///    (`ProcessedEvents.claimAndEnqueue(grouped:)`).
///
/// The steps are plain functions called in turn by one route handler rather than a stack of Hummingbird
/// middleware: every request of the ack path runs all of them, and each middleware layer cost an async frame and a
/// copy of the request context, together a sixth of the path's CPU.
struct SlackPipeline: Sendable {
    enum Route: Sendable { case events, commands }

    let verifier: SlackSignatureVerifier
    let maxBodyBytes: Int
    let authorizer: InstallationAuthorizer
    let events: EventsHandler
    let commands: CommandsHandler
    let logger: Logger

    func add<Context: RequestContext>(to router: Router<Context>) {
        let slack = router.group("slack")
        slack.post("events") { request, _ in try await respond(to: request, route: .events) }
        slack.post("commands") { request, _ in try await respond(to: request, route: .commands) }
    }

    /// 1. One line per Slack request, written once the steps are done: status, duration, outcome and what is known
    /// of event, tenant and user. Refusals (4xx) are logged by `APIErrorMiddleware` with their reason.
    func respond(to request: Request, route: Route) async throws -> Response {
        let start = ContinuousClock.now
        var outcome = SlackOutcome()
        let response = try await run(request, route: route, outcome: &outcome)
        var metadata: Logger.Metadata = [:]
        metadata.reserveCapacity(9)
        metadata["status"] = .string(String(response.status.code))
        metadata["duration_ms"] = .string(String((ContinuousClock.now - start).milliseconds))
        metadata["outcome"] = .string(outcome.result)
        if let value = outcome.eventID { metadata["event_id"] = .string(value) }
        if let value = outcome.tenantID { metadata["tenant_id"] = .string(value) }
        if let value = outcome.userID { metadata["user_id"] = .string(value) }
        if let value = outcome.eventType { metadata["event_type"] = .string(value) }
        if let value = outcome.command { metadata["command"] = .string(value) }
        if let retry = request.headers.firstValue(.slackRetryNum) { metadata["retry_num"] = .string(retry) }
        switch route {
        case .events: logger.info("POST /slack/events", metadata: metadata)
        case .commands: logger.info("POST /slack/commands", metadata: metadata)
        }
        return response
    }

    private func run(_ request: Request, route: Route, outcome: inout SlackOutcome) async throws -> Response {
        let body = try await readBody(request)
        if route == .commands, let answer = answerSSLCheck(request, body: body, outcome: &outcome) { return answer }
        try verifySignature(request, body: body)
        let inbound = try parse(request, body: body, route: route, outcome: &outcome)
        if let answer = try answerURLVerification(inbound, outcome: &outcome) { return answer }
        let authorized: AuthorizedInstallation
        switch try await authorize(inbound, outcome: &outcome) {
        case .answered(let answer): return answer
        case .found(let found): authorized = found
        }
        if let answer = ignoreBotMessages(inbound, botUserID: authorized.installation.botUserID, outcome: &outcome) { return answer }
        let slackRequest = SlackRequest(inbound: inbound, authorized: authorized)
        switch route {
        case .events: return try await events.handle(slackRequest, outcome: &outcome)
        case .commands: return try await commands.handle(slackRequest, outcome: &outcome)
        }
    }

    /// 2. The raw body, read once within `MAX_BODY_BYTES`: larger bodies get 413 before anything is parsed.
    private func readBody(_ request: Request) async throws -> [UInt8] {
        var request = request
        var buffer = try await request.collectBody(limit: maxBodyBytes)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    /// 3. Slack's `ssl_check=1` probe of a command URL.
    private func answerSSLCheck(_ request: Request, body: [UInt8], outcome: inout SlackOutcome) -> Response? {
        guard body.count < 512, SlackMediaType.isForm(request),
              FormEncoding.decode(String(decoding: body, as: UTF8.self))?["ssl_check"] == "1"
        else { return nil }
        outcome.result = "ssl_check"
        return Response(status: .ok)
    }

    /// 4. The signature over the raw bytes: anything unsigned, badly signed or stale ends in 401 (`SignatureError`).
    private func verifySignature(_ request: Request, body: [UInt8]) throws {
        try verifier.verify(
            timestamp: request.headers.firstValue(.slackRequestTimestamp),
            signature: request.headers.firstValue(.slackSignature),
            body: body
        )
    }

    /// 5. The request as Slack meant it, parsed once: an event envelope from `/slack/events` (JSON, read by the strict
    /// `JSONByteReader`), a slash command from `/slack/commands` (a form).
    private func parse(_ request: Request, body: [UInt8], route: Route, outcome: inout SlackOutcome) throws -> SlackInbound {
        switch route {
        case .commands:
            guard SlackMediaType.isForm(request) else {
                throw SlackRequestError.unsupportedContentType(expected: "application/x-www-form-urlencoded")
            }
            guard let text = String(validating: body, as: UTF8.self), let form = FormEncoding.decode(text),
                  let command = SlackCommand(form: form) else {
                throw SlackRequestError.malformed("body is not a Slack slash command")
            }
            outcome.userID = command.userID
            outcome.command = command.command
            return .command(command)
        case .events:
            guard SlackMediaType.isJSON(request) else { throw SlackRequestError.unsupportedContentType(expected: "application/json") }
            let parsed: SlackEventEnvelope?
            do {
                parsed = try SlackEventEnvelope(utf8: body)
            } catch {
                throw SlackRequestError.malformed("body is not a Slack event envelope (\(error))")
            }
            guard let envelope = parsed else { throw SlackRequestError.malformed("body is not UTF-8") }
            outcome.eventID = envelope.eventID
            outcome.userID = envelope.event?.user
            outcome.eventType = envelope.event?.type
            return .event(envelope)
        }
    }

    /// 6. Slack checks a new request URL with `url_verification`: echo its challenge.
    private func answerURLVerification(_ inbound: SlackInbound, outcome: inout SlackOutcome) throws -> Response? {
        guard case .event(let envelope) = inbound, envelope.type == "url_verification" else { return nil }
        guard let challenge = envelope.challenge else { throw SlackRequestError.malformed("url_verification without challenge") }
        outcome.result = "url_verification"
        EventsHandler.counter("url_verification").increment()
        return jsonResponse(["challenge": challenge])
    }

    private enum Authorization {
        case answered(Response)
        case found(AuthorizedInstallation)
    }

    /// 7. The installation the request belongs to. An event of a workspace that never installed the app (or whose
    /// install is gone) is acknowledged and dropped; a command gets a short ephemeral answer.
    private func authorize(_ inbound: SlackInbound, outcome: inout SlackOutcome) async throws -> Authorization {
        let key: (teamID: String?, enterpriseID: String?, isEnterpriseInstall: Bool)
        switch inbound {
        case .event(let envelope):
            guard envelope.type == "event_callback" else {
                outcome.result = "ignored:unknown_envelope_type"
                EventsHandler.counter("ignored:unknown_envelope_type").increment()
                return .answered(Response(status: .ok))
            }
            key = envelope.installationKey
        case .command(let command):
            key = (command.teamID, command.enterpriseID, command.isEnterpriseInstall)
        }
        guard let found = try await authorizer.find(
            teamID: key.teamID, enterpriseID: key.enterpriseID, isEnterpriseInstall: key.isEnterpriseInstall
        ) else {
            outcome.tenantID = key.teamID ?? key.enterpriseID
            outcome.result = "ignored:unknown_team"
            if case .command = inbound { return .answered(CommandsHandler.notInstalled()) }
            EventsHandler.counter("ignored:unknown_team").increment()
            return .answered(Response(status: .ok))
        }
        outcome.tenantID = found.installation.tenantID
        return .found(found)
    }

    /// 8. Messages from bots, the bot's own replies included, are never answered (that way lie reply loops).
    private func ignoreBotMessages(_ inbound: SlackInbound, botUserID: String, outcome: inout SlackOutcome) -> Response? {
        guard case .event(let envelope) = inbound, let event = envelope.event, !event.isLifecycle else { return nil }
        let reason: String
        if event.botID != nil {
            reason = "ignored:bot_message"
        } else if let user = event.user, !botUserID.isEmpty, user == botUserID {
            reason = "ignored:own_message"
        } else {
            return nil
        }
        outcome.result = reason
        EventsHandler.counter(reason).increment()
        return Response(status: .ok)
    }
}
