import EnableBotCore
import EnableBotHTTP
import Foundation
import Hummingbird
import Logging
import Metrics

/// The `/slack` routes: one chain of small steps, in the order Bolt runs its middleware, shared by events and
/// slash commands. Each step either answers (and the request ends there) or hands on what it learned in the
/// `SlackRequestContext`:
///
/// 1. `LogSlackRequest`: one log line per request, with the outcome the steps below record.
/// 2. `ReadSlackBody`: the raw body within `MAX_BODY_BYTES` (413).
/// 3. `AnswerSSLCheck`: Slack's `ssl_check=1` probe of a command URL, answered 200 before anything else, as Bolt
///    does (it carries nothing and starts nothing).
/// 4. `VerifySlackSignature`: `v0` HMAC-SHA256 over the raw bytes, timestamp within 300 s (401).
/// 5. `ParseSlackRequest`: the event envelope (JSON) or the command (form), parsed once (415, 400).
/// 6. `AnswerURLVerification`: the `challenge` of Slack's request URL check.
/// 7. `Authorize`: the installation the request belongs to (Bolt's `authorize`); unknown workspaces end here.
/// 8. `IgnoreBotMessages`: events from bots, the bot itself included, end here.
/// 9. The handler: `EventsHandler` or `CommandsHandler` decide the job and claim it through the `ClaimBatcher`.
enum SlackPipeline {
    static func add(
        to router: Router<SlackRequestContext>, verifier: SlackSignatureVerifier, maxBodyBytes: Int,
        authorizer: InstallationAuthorizer, events: EventsHandler, commands: CommandsHandler, logger: Logger
    ) {
        let slack = router.group("slack")
            .add(middleware: LogSlackRequest(logger: logger))
            .add(middleware: ReadSlackBody(maxBodyBytes: maxBodyBytes))
            .add(middleware: AnswerSSLCheck())
            .add(middleware: VerifySlackSignature(verifier: verifier))
            .add(middleware: ParseSlackRequest())
            .add(middleware: AnswerURLVerification())
            .add(middleware: Authorize(authorizer: authorizer))
            .add(middleware: IgnoreBotMessages())
        slack.post("events") { _, context in try await events.handle(context) }
        slack.post("commands") { _, context in try await commands.handle(context) }
    }
}

/// 1. One line per Slack request, written once the steps are done: status, duration, outcome and what is known
/// of event, tenant and user. Refusals (4xx) are logged by `APIErrorMiddleware` with their reason.
struct LogSlackRequest: RouterMiddleware {
    typealias Context = SlackRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let fields = context.outcome.fields
        var metadata: Logger.Metadata = [
            "status": "\(response.status.code)", "duration_ms": "\((ContinuousClock.now - start).milliseconds)",
            "outcome": "\(fields.result)",
        ]
        if let value = fields.eventID { metadata["event_id"] = "\(value)" }
        if let value = fields.tenantID { metadata["tenant_id"] = "\(value)" }
        if let value = fields.userID { metadata["user_id"] = "\(value)" }
        if let value = fields.eventType { metadata["event_type"] = "\(value)" }
        if let value = fields.command { metadata["command"] = "\(value)" }
        if let retry = request.headers[.slackRetryNum] { metadata["retry_num"] = "\(retry)" }
        logger.info("\(request.method.rawValue) \(request.uri.path)", metadata: metadata)
        return response
    }
}

/// 2. The raw body, read once within `MAX_BODY_BYTES`: larger bodies get 413 before anything is parsed.
struct ReadSlackBody: RouterMiddleware {
    typealias Context = SlackRequestContext
    let maxBodyBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        var buffer = try await request.collectBody(limit: maxBodyBytes)
        var context = context
        context.body = buffer.readBytes(length: buffer.readableBytes) ?? []
        return try await next(request, context)
    }
}

/// 3. Slack's `ssl_check=1` probe of a command URL.
struct AnswerSSLCheck: RouterMiddleware {
    typealias Context = SlackRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard context.body.count < 512, SlackMediaType.isForm(request),
              FormEncoding.decode(String(decoding: context.body, as: UTF8.self))?["ssl_check"] == "1"
        else { return try await next(request, context) }
        context.outcome.set("ssl_check")
        return Response(status: .ok)
    }
}

/// 4. The signature over the raw bytes: anything unsigned, badly signed or stale ends in 401 (`SignatureError`).
struct VerifySlackSignature: RouterMiddleware {
    typealias Context = SlackRequestContext
    let verifier: SlackSignatureVerifier

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try verifier.verify(
            timestamp: request.headers[.slackRequestTimestamp], signature: request.headers[.slackSignature], body: context.body
        )
        return try await next(request, context)
    }
}

/// 5. The request as Slack meant it, parsed once: an event envelope from `/slack/events` (JSON, read by the strict
/// `JSONByteReader`), a slash command from `/slack/commands` (a form).
struct ParseSlackRequest: RouterMiddleware {
    typealias Context = SlackRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if request.uri.path.hasSuffix("/commands") {
            guard SlackMediaType.isForm(request) else {
                throw SlackRequestError.unsupportedContentType(expected: "application/x-www-form-urlencoded")
            }
            guard let text = String(validating: context.body, as: UTF8.self), let form = FormEncoding.decode(text),
                  let command = SlackCommand(form: form) else {
                throw SlackRequestError.malformed("body is not a Slack slash command")
            }
            context.inbound = .command(command)
            context.outcome.update { $0.userID = command.userID; $0.command = command.command }
        } else {
            guard SlackMediaType.isJSON(request) else { throw SlackRequestError.unsupportedContentType(expected: "application/json") }
            guard let json = String(validating: context.body, as: UTF8.self) else { throw SlackRequestError.malformed("body is not UTF-8") }
            let envelope: SlackEventEnvelope
            do {
                envelope = try SlackEventEnvelope(json: json)
            } catch {
                throw SlackRequestError.malformed("body is not a Slack event envelope (\(error))")
            }
            context.inbound = .event(envelope)
            context.outcome.update { $0.eventID = envelope.eventID; $0.userID = envelope.event?.user; $0.eventType = envelope.event?.type }
        }
        return try await next(request, context)
    }
}

/// 6. Slack checks a new request URL with `url_verification`: echo its challenge.
struct AnswerURLVerification: RouterMiddleware {
    typealias Context = SlackRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard case .event(let envelope) = context.inbound, envelope.type == "url_verification" else {
            return try await next(request, context)
        }
        guard let challenge = envelope.challenge else { throw SlackRequestError.malformed("url_verification without challenge") }
        context.outcome.set("url_verification")
        EventsHandler.counter("url_verification").increment()
        return jsonResponse(["challenge": challenge])
    }
}

/// 7. The installation the request belongs to. An event of a workspace that never installed the app (or whose
/// install is gone) is acknowledged and dropped; a command gets a short ephemeral answer.
struct Authorize: RouterMiddleware {
    typealias Context = SlackRequestContext
    let authorizer: InstallationAuthorizer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let key: (teamID: String?, enterpriseID: String?, isEnterpriseInstall: Bool)
        switch context.inbound {
        case .event(let envelope):
            guard envelope.type == "event_callback" else {
                context.outcome.set("ignored:unknown_envelope_type")
                EventsHandler.counter("ignored:unknown_envelope_type").increment()
                return Response(status: .ok)
            }
            key = envelope.installationKey
        case .command(let command):
            key = (command.teamID, command.enterpriseID, command.isEnterpriseInstall)
        case nil:
            throw SlackRequestError.malformed("not a Slack request")
        }
        guard let installation = try await authorizer.find(
            teamID: key.teamID, enterpriseID: key.enterpriseID, isEnterpriseInstall: key.isEnterpriseInstall
        ) else {
            context.outcome.update { $0.tenantID = key.teamID ?? key.enterpriseID; $0.result = "ignored:unknown_team" }
            if case .command = context.inbound { return CommandsHandler.notInstalled() }
            EventsHandler.counter("ignored:unknown_team").increment()
            return Response(status: .ok)
        }
        var context = context
        context.installation = installation
        context.outcome.update { $0.tenantID = installation.tenantID }
        return try await next(request, context)
    }
}

/// 8. Messages from bots, the bot's own replies included, are never answered (that way lie reply loops).
struct IgnoreBotMessages: RouterMiddleware {
    typealias Context = SlackRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard case .event(let envelope) = context.inbound, let event = envelope.event, let installation = context.installation,
              !event.isLifecycle
        else { return try await next(request, context) }
        let reason: String? = if event.botID != nil {
            "ignored:bot_message"
        } else if let user = event.user, !installation.botUserID.isEmpty, user == installation.botUserID {
            "ignored:own_message"
        } else {
            nil
        }
        guard let reason else { return try await next(request, context) }
        context.outcome.set(reason)
        EventsHandler.counter(reason).increment()
        return Response(status: .ok)
    }
}
