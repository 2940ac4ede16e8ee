import EnableBotCore
import Foundation
import Hummingbird

/// The checks both OAuth callbacks (install and sign-in) run before talking to Slack, in this order:
/// Slack's `error` parameter; code and state present; the state cookie present and equal to the state;
/// the state consumed atomically (known, unexpired, unused, of this purpose).
struct OAuthStateCheck {
    let states: OAuthStateStore
    let purpose: String
    let flow: OAuthError.Flow

    /// Returns the authorization code once the state has been claimed by this request (and no other).
    func claim(query: [String: String], cookie: String?) async throws -> String {
        let state = query["state"] ?? ""
        if let error = query["error"] {
            // Burn the state too, so the link cannot be replayed; its outcome does not matter here.
            if !state.isEmpty, let cookie, Self.equal(cookie, state) { _ = try? await states.consume(state, purpose: purpose) }
            throw error == "access_denied" ? OAuthError.cancelled(flow) : OAuthError.slackRedirectError(flow, code: Self.sanitized(error))
        }
        guard let code = query["code"], !code.isEmpty, !state.isEmpty else { throw OAuthError.missingCodeOrState(flow) }
        guard let cookie, !cookie.isEmpty else { throw OAuthError.missingStateCookie(flow) }
        guard Self.equal(cookie, state) else { throw OAuthError.stateCookieMismatch(flow) }
        switch try await states.consume(state, purpose: purpose) {
        case .valid: return code
        case .unknown: throw OAuthError.stateUnknown(flow)
        case .expired: throw OAuthError.stateExpired(flow)
        case .alreadyUsed: throw OAuthError.stateReused(flow)
        }
    }

    static func equal(_ a: String, _ b: String) -> Bool { constantTimeEquals(Array(a.utf8), Array(b.utf8)) }

    /// Slack's error codes are short snake_case words; anything else is not echoed back.
    static func sanitized(_ code: String) -> String {
        let allowed = code.utf8.count <= 64 && code.utf8.allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_")
        }
        return allowed && !code.isEmpty ? code : "unknown_error"
    }

    /// Slack calls fail as `SlackAPIError` (Slack answered, but not with success) or anything else (no answer).
    static func slackFailure(_ error: any Error, flow: OAuthError.Flow) -> OAuthError {
        if let error = error as? SlackAPIError {
            return .slackRefused(flow, method: error.method, code: sanitized(error.code))
        }
        return .slackUnreachable(flow)
    }
}

extension Request {
    /// The query as a dictionary (the last value wins for repeated names).
    var queryDictionary: [String: String] {
        var result: [String: String] = [:]
        for (key, value) in uri.queryParameters { result[String(key)] = String(value) }
        return result
    }
}
