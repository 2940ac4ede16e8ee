import EnableBotCore
import Foundation
import Logging

/// Limits per client address for what an anonymous visitor can make the web service do: operator login attempts,
/// and starting an install or a Slack sign-in (each writes an OAuth state row). Counted by the deployment's
/// `RateLimiter`, so with Redis the limits hold across every web replica.
struct WebThrottle: Sendable {
    enum Action: String, Sendable {
        case login
        /// `GET /slack/install` and `GET /auth/slack`.
        case oauthStart = "oauth_start"
    }

    let limiter: any RateLimiter
    let loginLimit: RateLimitSpec
    let oauthStartLimit: RateLimitSpec
    let now: @Sendable () -> Date
    let logger: Logger

    /// nil when admitted; else the seconds until the client may try again.
    func admit(_ action: Action, client: String) async -> Int? {
        let spec = action == .login ? loginLimit : oauthStartLimit
        do {
            switch try await limiter.admit([RateLimitKey("web:\(action.rawValue):\(client)", spec)], at: now()) {
            case .admitted: return nil
            case .limited(_, let retryAfter): return max(1, Int(retryAfter.rounded(.up)))
            }
        } catch {
            // A limiter that cannot answer does not lock everyone out; the fallback limiter already covers Redis.
            logger.warning("web throttle unavailable", metadata: ["action": "\(action.rawValue)", "error": "\(error)"])
            return nil
        }
    }
}
