import EnableBotCore
import Foundation
import Logging

/// Sends the app what Slack would: events (`app_mention`, `message` in an `im`) to the events request URL and
/// slash commands to the commands URL, signed with the signing secret (`v0=` HMAC-SHA256 over `v0:ts:body`). An
/// event not acknowledged with a 2xx within 3 seconds is retried (up to 3 times) with `X-Slack-Retry-Num` and
/// `X-Slack-Retry-Reason`; the events URL must first have answered `url_verification`. Only workspaces that
/// installed the app receive anything.
public struct EventDelivery: Sendable {
    let state: EmulatorState
    let http: any HTTPClient
    let configuration: EmulatorConfiguration
    let logger: Logger
    let sleep: @Sendable (Duration) async throws -> Void

    public init(
        state: EmulatorState, http: any HTTPClient, configuration: EmulatorConfiguration, logger: Logger,
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.state = state
        self.http = http
        self.configuration = configuration
        self.logger = logger
        self.sleep = sleep
    }

    /// What happened to one HTTP attempt.
    enum Attempt: Equatable {
        case acknowledged(status: Int, body: [UInt8])
        /// Slack's `X-Slack-Retry-Reason` values.
        case failed(reason: String, detail: String, noRetry: Bool)
    }

    // MARK: - url_verification

    /// Sends `url_verification` to the events URL; true when it echoed the challenge.
    @discardableResult
    public func verifyRequestURL() async -> Bool {
        let challenge = SecureRandom.token(byteCount: 18)
        let body = Self.json(["token": Self.verificationToken, "challenge": challenge, "type": "url_verification"])
        let attempt = await send(url: configuration.eventsURL, body: body, contentType: "application/json", retry: nil)
        switch attempt {
        case .acknowledged(200, let answer):
            let text = String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let echoed = (try? JSONSerialization.jsonObject(with: Data(answer)) as? [String: Any])?["challenge"] as? String
            if text == challenge || echoed == challenge {
                await state.setRequestURL(verified: true, status: "verified (url_verification answered)")
                return true
            }
            await state.setRequestURL(verified: false, status: "the answer did not carry the challenge")
        case .acknowledged(let status, _):
            await state.setRequestURL(verified: false, status: "url_verification answered HTTP \(status)")
        case .failed(_, let detail, _):
            await state.setRequestURL(verified: false, status: "url_verification failed: \(detail)")
        }
        return false
    }

    /// Verifies the request URL, trying every second for up to `within` while the app is still starting.
    public func verifyAtStart(within: Duration = .seconds(120)) async {
        let deadline = ContinuousClock.now + within
        while !Task.isCancelled, ContinuousClock.now < deadline {
            if await verifyRequestURL() { return }
            try? await sleep(.seconds(1))
        }
    }

    // MARK: - Events

    /// Called after a person posted `message`: delivers `app_mention` (a channel message naming the bot) or
    /// `message` (in a DM with the bot) to an installed app. Returns once delivered or given up on.
    public func personPosted(_ message: EmulatedMessage) async {
        let world = await state.world
        guard let workspace = world.workspace(message.teamID), let channel = workspace.channel(message.channel) else { return }
        let type: String
        if channel.isIM {
            type = "message"
        } else if message.text.contains("<@\(workspace.botUserID)>") {
            type = "app_mention"
        } else {
            return  // the app subscribes to mentions and DMs only
        }
        guard world.installation(teamID: workspace.id) != nil else {
            await record(workspace.id, type, 0, "not delivered: the app is not installed in \(workspace.name)")
            return
        }
        var event: [String: Any] = [
            "type": type, "user": message.user, "text": message.text, "ts": message.ts, "channel": channel.id,
            "event_ts": message.ts, "team": workspace.id,
        ]
        if channel.isIM { event["channel_type"] = "im" }
        if let thread = message.threadTS { event["thread_ts"] = thread }
        let envelope: [String: Any] = [
            "token": Self.verificationToken, "team_id": workspace.id, "api_app_id": "A0ENABLEBOT", "event": event,
            "type": "event_callback", "event_id": "Ev" + SecureRandom.token(byteCount: 9).uppercased(),
            "event_time": Int(Date().timeIntervalSince1970), "is_ext_shared_channel": false,
            "authorizations": [[
                "enterprise_id": NSNull(), "team_id": workspace.id, "user_id": workspace.botUserID, "is_bot": true,
                "is_enterprise_install": false,
            ] as [String: Any]],
            "event_context": "EC" + SecureRandom.token(byteCount: 9),
        ]
        await deliverEvent(teamID: workspace.id, type: type, body: Self.json(envelope))
    }

    /// A person opened a new assistant thread with the app (Slack's AI app surface): delivers
    /// `assistant_thread_started` for the thread `root` in their DM with the bot, with the context Slack would send
    /// (`contextChannelID`: the channel they had open, if any). Returns once delivered or given up on.
    public func assistantThreadStarted(_ root: EmulatedMessage, userID: String, contextChannelID: String? = nil) async {
        let world = await state.world
        guard let workspace = world.workspace(root.teamID) else { return }
        let type = "assistant_thread_started"
        guard world.installation(teamID: workspace.id) != nil else {
            await record(workspace.id, type, 0, "not delivered: the app is not installed in \(workspace.name)")
            return
        }
        var context: [String: Any] = ["team_id": workspace.id, "enterprise_id": NSNull()]
        if let contextChannelID { context["channel_id"] = contextChannelID }
        let event: [String: Any] = [
            "type": type, "event_ts": root.ts,
            "assistant_thread": ["user_id": userID, "channel_id": root.channel, "thread_ts": root.ts, "context": context] as [String: Any],
        ]
        let envelope: [String: Any] = [
            "token": Self.verificationToken, "team_id": workspace.id, "api_app_id": "A0ENABLEBOT", "event": event,
            "type": "event_callback", "event_id": "Ev" + SecureRandom.token(byteCount: 9).uppercased(),
            "event_time": Int(Date().timeIntervalSince1970),
            "authorizations": [[
                "enterprise_id": NSNull(), "team_id": workspace.id, "user_id": workspace.botUserID, "is_bot": true,
                "is_enterprise_install": false,
            ] as [String: Any]],
        ]
        await deliverEvent(teamID: workspace.id, type: type, body: Self.json(envelope))
    }

    /// Delivers an event with Slack's retries; returns the attempts made.
    @discardableResult
    func deliverEvent(teamID: String, type: String, body: [UInt8]) async -> Int {
        var retry: (number: Int, reason: String)?
        for attempt in 0...configuration.retryDelays.count {
            if attempt > 0 { try? await sleep(configuration.retryDelays[attempt - 1]) }
            if !(await state.requestURLVerified), !(await verifyRequestURL()) {
                let status = await state.requestURLStatus
                await record(teamID, type, attempt, "request URL not verified (\(status))")
                retry = (attempt + 1, "connection_failed")
                continue
            }
            let start = ContinuousClock.now
            let result = await send(url: configuration.eventsURL, body: body, contentType: "application/json", retry: retry)
            let took = (ContinuousClock.now - start).milliseconds
            switch result {
            case .acknowledged(let status, _) where (200..<300).contains(status):
                await record(teamID, type, attempt, "delivered: HTTP \(status) in \(took) ms")
                return attempt + 1
            case .acknowledged(let status, _):
                await record(teamID, type, attempt, "HTTP \(status) in \(took) ms")
                retry = (attempt + 1, "http_error")
            case .failed(let reason, let detail, let noRetry):
                await record(teamID, type, attempt, "\(reason): \(detail)")
                if noRetry { return attempt + 1 }
                retry = (attempt + 1, reason)
            }
        }
        await record(teamID, type, configuration.retryDelays.count, "gave up after \(configuration.retryDelays.count) retries")
        return configuration.retryDelays.count + 1
    }

    /// The workspace removes the app: its token stops working, and the app hears `app_uninstalled` and
    /// `tokens_revoked`, as from Slack.
    public func uninstall(teamID: String) async {
        guard let workspace = await state.world.workspace(teamID), await state.uninstall(teamID: teamID) != nil else { return }
        let events: [[String: Any]] = [
            ["type": "app_uninstalled"],
            ["type": "tokens_revoked", "tokens": ["oauth": [String](), "bot": [workspace.botUserID]]],
        ]
        for event in events {
            let envelope: [String: Any] = [
                "token": Self.verificationToken, "team_id": teamID, "api_app_id": "A0ENABLEBOT", "event": event,
                "type": "event_callback", "event_id": "Ev" + SecureRandom.token(byteCount: 9).uppercased(),
                "event_time": Int(Date().timeIntervalSince1970),
            ]
            await deliverEvent(teamID: teamID, type: event["type"] as? String ?? "", body: Self.json(envelope))
        }
    }

    // MARK: - Slash commands

    /// A person typed `/command text`: sends it to the commands URL once (Slack does not retry commands) and shows
    /// the app's answer (ephemeral unless `response_type` is `in_channel`), or Slack's error when it did not answer.
    public func command(_ command: String, text: String, teamID: String, channelID: String, userID: String) async {
        let world = await state.world
        guard let workspace = world.workspace(teamID), let channel = workspace.channel(channelID),
              let user = workspace.user(userID) else { return }
        guard world.installation(teamID: teamID) != nil else {
            await slackbot(teamID, channelID, userID, "\(command) is not a valid command. (Install EnableBot in \(workspace.name) first.)")
            return
        }
        let responseID = await state.issueResponseURL(teamID: teamID, channel: channelID, user: userID)
        let form: [(String, String)] = [
            ("token", Self.verificationToken), ("team_id", workspace.id), ("team_domain", workspace.domain),
            ("channel_id", channel.id), ("channel_name", channel.isIM ? "directmessage" : channel.name),
            ("user_id", user.id), ("user_name", user.name), ("command", command), ("text", text),
            ("api_app_id", "A0ENABLEBOT"), ("is_enterprise_install", "false"),
            ("response_url", configuration.origin + "/commands/response/" + responseID),
            ("trigger_id", "\(Int(Date().timeIntervalSince1970)).\(SecureRandom.token(byteCount: 9))"),
        ]
        let body = Array(FormEncoding.encode(form).utf8)
        let result = await send(url: configuration.commandsURL, body: body, contentType: "application/x-www-form-urlencoded", retry: nil)
        switch result {
        case .acknowledged(let status, let answer) where (200..<300).contains(status):
            await record(teamID, command, 0, "delivered: HTTP \(status)")
            await respond(teamID: teamID, channelID: channelID, userID: userID, body: answer)
        case .acknowledged(let status, _):
            await record(teamID, command, 0, "HTTP \(status)")
            await slackbot(teamID, channelID, userID, "\(command) failed with the error \"dispatch_failed\"")
        case .failed(let reason, let detail, _):
            await record(teamID, command, 0, "\(reason): \(detail)")
            let error = reason == "http_timeout" ? "operation_timeout" : "dispatch_failed"
            await slackbot(teamID, channelID, userID, "\(command) failed with the error \"\(error)\"")
        }
    }

    /// A command's answer, or a later message to its `response_url`: JSON `{text, response_type}` or plain text.
    func respond(teamID: String, channelID: String, userID: String, body: [UInt8]) async {
        guard !body.isEmpty, let workspace = await state.world.workspace(teamID) else { return }
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        let text = object.map { $0["text"] as? String ?? "" } ?? String(decoding: body, as: UTF8.self)
        guard !text.isEmpty else { return }
        let inChannel = object?["response_type"] as? String == "in_channel"
        await state.post(
            teamID: teamID, channel: channelID, user: workspace.botUserID, text: text, threadTS: nil, isBot: true,
            ephemeralTo: inChannel ? nil : userID
        )
    }

    private func slackbot(_ teamID: String, _ channelID: String, _ userID: String, _ text: String) async {
        await state.post(teamID: teamID, channel: channelID, user: "USLACKBOT", text: text, threadTS: nil, isBot: true, ephemeralTo: userID)
    }

    // MARK: - HTTP

    func send(url: String, body: [UInt8], contentType: String, retry: (number: Int, reason: String)?) async -> Attempt {
        let timestamp = String(Int(Date().timeIntervalSince1970))
        var headers: [(name: String, value: String)] = [
            ("Content-Type", contentType), ("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)"),
            ("X-Slack-Request-Timestamp", timestamp),
            ("X-Slack-Signature", SlackSignatureVerifier.sign(secret: configuration.signingSecret, timestamp: timestamp, body: body)),
        ]
        if let retry {
            headers.append(("X-Slack-Retry-Num", "\(retry.number)"))
            headers.append(("X-Slack-Retry-Reason", retry.reason))
        }
        let request = HTTPClientRequest(method: "POST", url: url, headers: headers, body: body, timeout: configuration.deliveryTimeout)
        do {
            let response = try await http.send(request)
            if (200..<300).contains(response.status) { return .acknowledged(status: response.status, body: response.body) }
            return .failed(reason: "http_error", detail: "HTTP \(response.status)", noRetry: response.header("X-Slack-No-Retry") == "1")
        } catch let error as HTTPClientError where error == .timedOut {
            return .failed(reason: "http_timeout", detail: "no answer within \(configuration.deliveryTimeout)", noRetry: false)
        } catch let error as HTTPClientError where error == .connectionFailed {
            return .failed(reason: "connection_failed", detail: "cannot connect to \(url)", noRetry: false)
        } catch {
            return .failed(reason: "unknown_error", detail: "\(error)", noRetry: false)
        }
    }

    private func record(_ teamID: String, _ kind: String, _ attempt: Int, _ outcome: String) async {
        logger.info("delivery", metadata: ["tenant_id": "\(teamID)", "kind": "\(kind)", "attempt": "\(attempt)", "outcome": "\(outcome)"])
        await state.record(DeliveryRecord(teamID: teamID, kind: kind, attempt: attempt, outcome: outcome, at: Date()))
    }

    /// Slack's legacy verification token; EnableBot ignores it (it verifies signatures).
    static let verificationToken = "emulator-verification-token"

    static func json(_ object: [String: Any]) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }
}
