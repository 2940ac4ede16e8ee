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
/// A refresh runs once per tenant however many jobs want the token at that moment: within a process the others
/// await it, and across replicas a lease on the installation row (`InstallationStore.claimTokenRefresh`) lets one
/// replica call Slack while the others wait for the token it stores.
actor BotTokenProvider {
    /// Refresh when the token has less than this left.
    static let refreshMargin: TimeInterval = 300
    /// How long a replica may hold the refresh: longer than a Slack call with its retries takes.
    static let refreshLease: TimeInterval = 60

    private let installations: InstallationStore
    private let slack: SlackWebClient
    private let clientID: String
    private let clientSecret: String
    private let auditLog: AuditLog
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let pollInterval: Duration
    private var refreshing: [String: Task<String, any Error>] = [:]

    init(
        installations: InstallationStore, slack: SlackWebClient, clientID: String, clientSecret: String,
        auditLog: AuditLog, now: @escaping @Sendable () -> Date, logger: Logger, pollInterval: Duration = .milliseconds(50)
    ) {
        self.pollInterval = pollInterval
        self.installations = installations
        self.slack = slack
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.auditLog = auditLog
        self.now = now
        self.logger = logger
    }

    /// The tenant's bot token, refreshed first when it is about to expire. `stored`: the tokens the caller read
    /// already (with the installation), instead of reading them again.
    func botToken(tenantID: String, stored: Result<InstallationTokens, any Error>? = nil) async throws -> String {
        if let inFlight = refreshing[tenantID] { return try await inFlight.value }
        let found = if let stored { try stored.get() } else { try await installations.tokens(tenantID: tenantID) }
        guard let tokens = found, let bot = tokens.botToken else {
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
        let task = Task { [installations, slack, clientID, clientSecret, auditLog, now, logger, pollInterval] () throws -> String in
            // Another replica may hold the lease: wait for its token, or take over once the lease lapses. Bounded in
            // real time, so a frozen clock cannot keep a job here forever.
            let giveUp = ContinuousClock.now + .seconds(Self.refreshLease) + .seconds(10)
            while true {
                switch try await installations.claimTokenRefresh(tenantID: tenantID, margin: margin, lease: Self.refreshLease) {
                case .missing:
                    throw BotTokenUnavailable(tenantID: tenantID, reason: "no installation")
                case .fresh(let tokens):
                    guard let bot = tokens.botToken else {
                        throw BotTokenUnavailable(tenantID: tenantID, reason: "the installation has no bot token")
                    }
                    return bot
                case .heldElsewhere:
                    guard ContinuousClock.now < giveUp else {
                        throw BotTokenUnavailable(tenantID: tenantID, reason: "another instance is still refreshing the token")
                    }
                    try await Task.sleep(for: pollInterval)
                case .claimed(let tokens):
                    do {
                        guard let refreshToken = tokens.refreshToken else {
                            throw BotTokenUnavailable(tenantID: tenantID, reason: "no refresh token")
                        }
                        guard !clientID.isEmpty, !clientSecret.isEmpty else {
                            throw BotTokenUnavailable(
                                tenantID: tenantID, reason: "SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are needed to refresh tokens")
                        }
                        let refreshed = try await slack.refreshToken(refreshToken, clientID: clientID, clientSecret: clientSecret)
                        let expiresAt = refreshed.expiresIn.map { now().addingTimeInterval(TimeInterval($0)) }
                        try await installations.updateTokens(
                            tenantID: tenantID, botToken: refreshed.accessToken, refreshToken: refreshed.refreshToken,
                            expiresAt: expiresAt
                        )
                        logger.info("bot token refreshed", metadata: ["tenant_id": "\(tenantID)"])
                        try? await auditLog.record(tenantID: tenantID, actor: "system", action: "token_refreshed")
                        return refreshed.accessToken
                    } catch {
                        try? await installations.releaseTokenRefresh(tenantID: tenantID)
                        throw error
                    }
                }
            }
        }
        refreshing[tenantID] = task
        defer { refreshing[tenantID] = nil }
        return try await task.value
    }
}
