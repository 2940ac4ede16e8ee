import Foundation
import Logging

/// How a Slack Web API call authenticates.
public enum SlackAuth: Sendable {
    case none
    /// A bot or user token.
    case bearer(String)
    /// The app's client credentials (oauth.v2.access, openid.connect.token).
    case basic(clientID: String, clientSecret: String)
}

/// Slack answered, but not with success: `ok:false` carries Slack's error code; a non-2xx status is `http_<status>`.
/// The description names the method and code only: never a token or the raw response.
public struct SlackAPIError: Error, CustomStringConvertible, Equatable, Sendable {
    public let method: String
    public let code: String

    public init(method: String, code: String) {
        self.method = method
        self.code = code
    }

    public var description: String { "Slack \(method) failed: \(code)" }

    /// Slack's 5xx (`http_5xx`): worth trying again. Other codes are Slack's answer (transport failures are not
    /// `SlackAPIError`s at all).
    public var isTransient: Bool { code.hasPrefix("http_5") }

    /// Errors that mean the token no longer works for this workspace.
    public var revokesInstallation: Bool {
        ["invalid_auth", "account_inactive", "token_revoked", "not_authed", "team_not_found", "app_uninstalled"].contains(code)
    }
}

/// A small client for Slack's Web API over any `HTTPClient`. Rate-limited calls (429) wait `Retry-After`
/// and are retried a bounded number of times.
public struct SlackWebClient: Sendable {
    public let baseURL: String
    private let http: any HTTPClient
    private let logger: Logger
    private let maxRateLimitRetries: Int
    private let sleep: @Sendable (Duration) async throws -> Void
    private let timeout: Duration

    public init(
        baseURL: String, http: any HTTPClient, logger: Logger, maxRateLimitRetries: Int = 3, timeout: Duration = .seconds(15),
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
        self.logger = logger
        self.maxRateLimitRetries = maxRateLimitRetries
        self.timeout = timeout
        self.sleep = sleep
    }

    /// POSTs `params` form-encoded to `{baseURL}/{method}` and decodes the answer.
    public func call<Response: Decodable>(
        _ method: String, params: [(String, String)], auth: SlackAuth, as type: Response.Type
    ) async throws -> Response {
        let body = Array(FormEncoding.encode(params).utf8)
        return try await send(method, body: body, contentType: "application/x-www-form-urlencoded", auth: auth, as: type)
    }

    /// POSTs `body` as JSON (chat.postMessage and friends) with a bearer token.
    public func callJSON<Response: Decodable, Body: Encodable>(
        _ method: String, body: Body, token: String, as type: Response.Type
    ) async throws -> Response {
        let data = try (body as? any SlackJSONBody)?.jsonBytes ?? Array(JSONEncoder().encode(body))
        return try await send(method, body: data, contentType: "application/json; charset=utf-8", auth: .bearer(token), as: type)
    }

    private func send<Response: Decodable>(
        _ method: String, body: [UInt8], contentType: String, auth: SlackAuth, as type: Response.Type
    ) async throws -> Response {
        var headers: [(name: String, value: String)] = [("Content-Type", contentType), ("Accept", "application/json")]
        switch auth {
        case .none: break
        case .bearer(let token): headers.append(("Authorization", "Bearer \(token)"))
        case .basic(let id, let secret):
            headers.append(("Authorization", "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()))
        }
        let request = HTTPClientRequest(method: "POST", url: "\(baseURL)/\(method)", headers: headers, body: body, timeout: timeout)
        var attempt = 0
        while true {
            let response = try await http.send(request)
            if response.status == 429, attempt < maxRateLimitRetries {
                attempt += 1
                let wait = Self.retryAfter(response.header("Retry-After"))
                logger.warning("Slack rate limited the call; waiting", metadata: [
                    "slack_method": "\(method)", "retry_after_s": "\(wait)", "attempt": "\(attempt)",
                ])
                try await sleep(.seconds(wait))
                continue
            }
            guard (200..<300).contains(response.status) else {
                throw SlackAPIError(method: method, code: "http_\(response.status)")
            }
            guard let envelope = SlackEnvelope(json: response.body) else { throw SlackAPIError(method: method, code: "invalid_response") }
            guard envelope.ok else { throw SlackAPIError(method: method, code: envelope.error ?? "unknown_error") }
            // The answers the reply path gets are complete in the envelope: no second reading of the body.
            if let answer = SlackOK() as? Response { return answer }
            if let answer = SlackPostedMessage(channel: envelope.channel, ts: envelope.ts) as? Response { return answer }
            do {
                return try JSONDecoder().decode(Response.self, from: Data(response.body))
            } catch {
                throw SlackAPIError(method: method, code: "invalid_response")
            }
        }
    }

    /// Seconds to wait: Slack's `Retry-After`, at least 1 and at most 60 (a hostile or broken value cannot stall us).
    static func retryAfter(_ header: String?) -> Int {
        guard let header, let seconds = Int(header.trimmingCharacters(in: .whitespaces)) else { return 1 }
        return min(max(seconds, 1), 60)
    }
}

/// What every Web API answer says at its top level (`ok`, `error`), and the `channel` and `ts` of a posted message;
/// read with `JSONByteReader` (`ok` must be a boolean, `error` text or null, as `JSONDecoder` required).
private struct SlackEnvelope {
    var ok = false
    var error: String?
    var channel: String?
    var ts: String?

    /// nil when the body is not a JSON object with a boolean `ok`.
    init?(json body: [UInt8]) {
        var sawOK = false
        let read: Void? = try? JSONByteReader.read(validUTF8: JSONByteReader.isValidUTF8(body) ? body : []) { reader in
            guard try reader.kind() == .object else { throw reader.malformed("not an object") }
            try reader.readObject { reader, key in
                switch key {
                case "ok":
                    ok = try reader.readBool()
                    sawOK = true
                case "error": error = try reader.readNullableString()
                // Other methods answer with a `channel` object: only a string is a posted message's.
                case "channel": channel = try reader.readStringIfPresent()
                case "ts": ts = try reader.readStringIfPresent()
                default: try reader.skipValue()
                }
            }
        }
        guard read != nil, sawOK else { return nil }
    }
}

/// A request body that writes its own JSON (the reply path's, sent once per reply part), instead of `JSONEncoder`.
protocol SlackJSONBody {
    var jsonBytes: [UInt8] { get }
}

/// A decodable for calls whose answer carries nothing we need beyond `ok`.
public struct SlackOK: Decodable, Sendable {}

/// `application/x-www-form-urlencoded` encoding and decoding (slash commands arrive this way too).
public enum FormEncoding {
    private static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    public static func encode(_ params: [(String, String)]) -> String {
        params.map { escape($0.0) + "=" + escape($0.1) }.joined(separator: "&")
    }

    public static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// Decodes `a=1&b=x+y`; nil when the text is not valid percent-encoding.
    public static func decode(_ text: String) -> [String: String]? {
        var result: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = parts[0].replacingOccurrences(of: "+", with: " ").removingPercentEncoding else { return nil }
            let rawValue = parts.count > 1 ? String(parts[1]) : ""
            guard let value = rawValue.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else { return nil }
            result[key] = value
        }
        return result
    }
}
