import Foundation

/// What `chat.postMessage` answers with (only the fields we read).
public struct SlackPostedMessage: Decodable, Sendable {
    public var channel: String?
    public var ts: String?
}

/// `oauth.v2.access` with `grant_type=refresh_token`: the new bot token and, when rotation is on, the next refresh token.
public struct SlackRefreshedToken: Decodable, Sendable {
    public var accessToken: String
    public var refreshToken: String?
    public var expiresIn: Int?
    public var tokenType: String?

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token", refreshToken = "refresh_token", expiresIn = "expires_in"
        case tokenType = "token_type"
    }
}

extension SlackWebClient {
    private struct PostMessage: Encodable, SlackJSONBody {
        var channel: String
        var text: String
        var threadTS: String?
        var user: String?
        /// `none` and `false`: Slack acts only on the `<!here>`/`<@U…>` forms, never on bare `@channel`/`@here`
        /// or names in the text (both are the defaults today; said explicitly so the text stays inert).
        var parse: String? = "none"
        var linkNames: Bool? = false

        enum CodingKeys: String, CodingKey {
            case channel, text, user, parse
            case threadTS = "thread_ts"
            case linkNames = "link_names"
        }

        /// The body `JSONEncoder` would write, written directly: one per reply part.
        var jsonBytes: [UInt8] {
            var json = JSONObjectWriter()
            json.add("channel", channel)
            json.add("text", text)
            json.add("thread_ts", threadTS)
            json.add("user", user)
            json.add("parse", parse)
            json.add("link_names", linkNames)
            return json.bytes
        }
    }

    /// `chat.postMessage`: posts `text` (mrkdwn, already escaped by the caller) in `channel`, in the thread `threadTS`
    /// when given, with `parse: none` and `link_names: false`.
    @discardableResult
    public func postMessage(channel: String, text: String, threadTS: String?, token: String) async throws -> SlackPostedMessage {
        try await callJSON(
            "chat.postMessage", body: PostMessage(channel: channel, text: text, threadTS: threadTS), token: token,
            as: SlackPostedMessage.self
        )
    }

    /// `chat.postEphemeral`: a message only `user` sees, in `channel` (and thread).
    public func postEphemeral(channel: String, user: String, text: String, threadTS: String?, token: String) async throws {
        _ = try await callJSON(
            "chat.postEphemeral", body: PostMessage(channel: channel, text: text, threadTS: threadTS, user: user),
            token: token, as: SlackOK.self
        )
    }

    /// `chat.update`: replaces the text of the message `ts` (mrkdwn, already escaped by the caller).
    public func updateMessage(channel: String, ts: String, text: String, token: String) async throws {
        _ = try await callJSON("chat.update", body: UpdateMessage(channel: channel, ts: ts, text: text), token: token, as: SlackOK.self)
    }

    private struct UpdateMessage: Encodable {
        var channel: String
        var ts: String
        var text: String
        var parse = "none"
        var linkNames = false

        enum CodingKeys: String, CodingKey {
            case channel, ts, text, parse
            case linkNames = "link_names"
        }
    }

    private struct StartStream: Encodable {
        var channel: String
        var threadTS: String
        var recipientTeamID: String?
        var recipientUserID: String?
        var markdownText: String

        enum CodingKeys: String, CodingKey {
            case channel
            case threadTS = "thread_ts"
            case recipientTeamID = "recipient_team_id"
            case recipientUserID = "recipient_user_id"
            case markdownText = "markdown_text"
        }
    }

    private struct StreamText: Encodable {
        var channel: String
        var ts: String
        var markdownText: String?

        enum CodingKeys: String, CodingKey {
            case channel, ts
            case markdownText = "markdown_text"
        }
    }

    /// `chat.startStream`: a message in the thread `threadTS` that grows while it is written, starting with
    /// `markdownText` (Markdown, at most 12,000 characters, escaped by the caller). Returns its `ts`.
    public func startStream(
        channel: String, threadTS: String, recipientTeamID: String?, recipientUserID: String?, markdownText: String, token: String
    ) async throws -> SlackPostedMessage {
        try await callJSON(
            "chat.startStream",
            body: StartStream(channel: channel, threadTS: threadTS, recipientTeamID: recipientTeamID,
                              recipientUserID: recipientUserID, markdownText: markdownText),
            token: token, as: SlackPostedMessage.self
        )
    }

    /// `chat.appendStream`: adds `markdownText` to the streaming message `ts`.
    public func appendStream(channel: String, ts: String, markdownText: String, token: String) async throws {
        _ = try await callJSON(
            "chat.appendStream", body: StreamText(channel: channel, ts: ts, markdownText: markdownText), token: token, as: SlackOK.self
        )
    }

    /// `chat.stopStream`: ends the streaming message `ts`, with `markdownText` as its last words if given.
    public func stopStream(channel: String, ts: String, markdownText: String?, token: String) async throws {
        _ = try await callJSON(
            "chat.stopStream", body: StreamText(channel: channel, ts: ts, markdownText: markdownText), token: token, as: SlackOK.self
        )
    }

    /// `oauth.v2.access` with a refresh token (token rotation), authenticated with the app's client credentials.
    public func refreshToken(_ refreshToken: String, clientID: String, clientSecret: String) async throws -> SlackRefreshedToken {
        try await call(
            "oauth.v2.access",
            params: [("grant_type", "refresh_token"), ("refresh_token", refreshToken),
                     ("client_id", clientID), ("client_secret", clientSecret)],
            auth: .none, as: SlackRefreshedToken.self
        )
    }
}
