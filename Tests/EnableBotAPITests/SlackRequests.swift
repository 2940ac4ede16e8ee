import EnableBotCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore

/// Slack's requests, built and signed the way Slack does.
enum SlackRequests {
    static func envelope(eventID: String, team: String, event: [String: Any]) -> [UInt8] {
        let object: [String: Any] = [
            "token": "legacy-verification-token", "team_id": team, "api_app_id": "A1", "type": "event_callback",
            "event_id": eventID, "event_time": 1_800_000_000, "event": event,
            "authorizations": [["team_id": team, "user_id": "UBOT\(team)", "is_bot": true, "is_enterprise_install": false]],
            "unknown_future_field": ["nested": true],
        ]
        return Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    static func mention(
        eventID: String, team: String = "T1", user: String = "U1", channel: String = "C1", text: String? = nil,
        ts: String = "1800000000.000100", threadTS: String? = nil
    ) -> [UInt8] {
        var event: [String: Any] = [
            "type": "app_mention", "user": user, "channel": channel, "ts": ts, "event_ts": ts,
            "text": text ?? "<@UBOT\(team)> what is a sliding window?",
        ]
        if let threadTS { event["thread_ts"] = threadTS }
        return envelope(eventID: eventID, team: team, event: event)
    }

    static func directMessage(eventID: String, team: String = "T1", user: String = "U1", text: String) -> [UInt8] {
        envelope(eventID: eventID, team: team, event: [
            "type": "message", "channel_type": "im", "user": user, "channel": "D1", "ts": "1800000001.000200", "text": text,
        ])
    }

    static func headers(
        body: [UInt8], timestamp: Int = Int(Date().timeIntervalSince1970), secret: String = APIHarness.signingSecret,
        contentType: String = "application/json"
    ) -> HTTPFields {
        let ts = String(timestamp)
        return [
            .contentType: contentType,
            HTTPField.Name("X-Slack-Request-Timestamp")!: ts,
            HTTPField.Name("X-Slack-Signature")!: SlackSignatureVerifier.sign(secret: secret, timestamp: ts, body: body),
        ]
    }

    static func command(text: String, team: String = "T1", user: String = "U1", channel: String = "C9", trigger: String = UUID().uuidString) -> [UInt8] {
        Array(FormEncoding.encode([
            ("token", "legacy"), ("team_id", team), ("team_domain", "acme"), ("channel_id", channel), ("channel_name", "general"),
            ("user_id", user), ("user_name", "alice"), ("command", "/ask"), ("text", text),
            ("response_url", "https://hooks.slack.invalid/commands/1/2"), ("trigger_id", trigger), ("api_app_id", "A1"),
        ]).utf8)
    }
}

extension TestClientProtocol {
    /// POSTs a signed event (or any body with the given headers).
    func postEvent(
        _ body: [UInt8], headers: HTTPFields? = nil, retryNum: Int? = nil, path: String = "/slack/events"
    ) async throws -> TestResponse {
        var fields = headers ?? SlackRequests.headers(body: body)
        if let retryNum {
            fields[HTTPField.Name("X-Slack-Retry-Num")!] = "\(retryNum)"
            fields[HTTPField.Name("X-Slack-Retry-Reason")!] = "http_timeout"
        }
        return try await executeRequest(uri: path, method: .post, headers: fields, body: ByteBuffer(bytes: body))
    }

    func postCommand(_ body: [UInt8]) async throws -> TestResponse {
        try await postEvent(
            body, headers: SlackRequests.headers(body: body, contentType: "application/x-www-form-urlencoded"), path: "/slack/commands"
        )
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
}
