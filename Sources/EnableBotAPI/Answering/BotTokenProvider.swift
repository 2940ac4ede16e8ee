import EnableBotCore
import Foundation
import Logging

/// Why no bot token could be had for a tenant.
struct BotTokenUnavailable: Error, CustomStringConvertible {
    let tenantID: String
    let reason: String
    var description: String { "no bot token for \(tenantID): \(reason)" }
}

/// Hands out a tenant's decrypted bot token for one Slack call, refreshing rotating tokens before they expire.
/// A refresh runs once per tenant however many jobs want the token at that moment: the others await it.
actor BotTokenProvider {
    /// Refresh when the token has less than this left.
    static let refreshMargin: TimeInterval = 300

    private let installations: InstallationStore
    private let slack: SlackWebClient
    private let clientID: String
    private let clientSecret: String
    private let auditLog: AuditLog
    private let now: @Sendable () -> Date
    private let logger: Logger
    private var refreshing: [String: Task<String, any Error>] = [:]

    init(
        installations: InstallationStore, slack: SlackWebClient, clientID: String, clientSecret: String,
        auditLog: AuditLog, now: @escaping @Sendable () -> Date, logger: Logger
    ) {
        self.installations = installations
        self.slack = slack
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.auditLog = auditLog
        self.now = now
        self.logger = logger
    }

    func botToken(tenantID: String) async throws -> String {
        if let inFlight = refreshing[tenantID] { return try await inFlight.value }
        guard let tokens = try await installations.tokens(tenantID: tenantID), let bot = tokens.botToken else {
            throw BotTokenUnavailable(tenantID: tenantID, reason: "the installation has no bot token")
        }
        guard let expiresAt = tokens.expiresAt, tokens.refreshToken != nil,
              expiresAt.timeIntervalSince(now()) < Self.refreshMargin else { return bot }
        return try await refresh(tenantID: tenantID, margin: Self.refreshMargin)
    }

    /// Refreshes the tenant's rotating token if it expires within `margin` seconds (or joins the refresh already
    /// running) and returns the current token.
    func refresh(tenantID: String, margin: TimeInterval) async throws -> String {
        if let inFlight = refreshing[tenantID] { return try await inFlight.value }
        let task = Task { [installations, slack, clientID, clientSecret, auditLog, now, logger] () throws -> String in
            // Read again: another job may have refreshed while we were deciding.
            guard let tokens = try await installations.tokens(tenantID: tenantID), let refreshToken = tokens.refreshToken else {
                throw BotTokenUnavailable(tenantID: tenantID, reason: "no refresh token")
            }
            if let bot = tokens.botToken, let expiresAt = tokens.expiresAt,
               expiresAt.timeIntervalSince(now()) >= margin {
                return bot
            }
            guard !clientID.isEmpty, !clientSecret.isEmpty else {
                throw BotTokenUnavailable(tenantID: tenantID, reason: "SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are needed to refresh tokens")
            }
            let refreshed = try await slack.refreshToken(refreshToken, clientID: clientID, clientSecret: clientSecret)
            let expiresAt = refreshed.expiresIn.map { now().addingTimeInterval(TimeInterval($0)) }
            try await installations.updateTokens(
                tenantID: tenantID, botToken: refreshed.accessToken, refreshToken: refreshed.refreshToken, expiresAt: expiresAt
            )
            logger.info("bot token refreshed", metadata: ["tenant_id": "\(tenantID)"])
            try? await auditLog.record(tenantID: tenantID, actor: "system", action: "token_refreshed")
            return refreshed.accessToken
        }
        refreshing[tenantID] = task
        defer { refreshing[tenantID] = nil }
        return try await task.value
    }
}
