import Foundation

/// A workspace (or an Enterprise Grid org, for org-wide installs) that installed the app: one tenant.
/// Tokens are not part of it; they are read on their own, decrypted, only where a Slack call needs them.
public struct Installation: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        case active
        /// Switched off by the workspace (its admins on the dashboard) or by Slack (uninstall, revoked tokens).
        case inactive
        /// Switched off by the operator. Only the operator lifts it: neither a workspace admin nor a reinstall does.
        case suspended
    }

    /// The team id, or the enterprise id of an org-wide install.
    public var tenantID: String
    public var teamID: String?
    public var enterpriseID: String?
    public var isEnterpriseInstall: Bool
    public var teamName: String
    public var appID: String
    public var botUserID: String
    public var botID: String
    public var scopes: String
    public var userScopes: String
    public var installerUserID: String
    public var status: Status
    public var settings: TenantSettings
    public var tokenExpiresAt: Date?
    public var lastError: String?
    public var installedAt: Date
    public var updatedAt: Date

    public init(
        tenantID: String, teamID: String?, enterpriseID: String?, isEnterpriseInstall: Bool = false,
        teamName: String = "", appID: String = "", botUserID: String = "", botID: String = "",
        scopes: String = "", userScopes: String = "", installerUserID: String = "", status: Status = .active,
        settings: TenantSettings = TenantSettings(), tokenExpiresAt: Date? = nil, lastError: String? = nil,
        installedAt: Date, updatedAt: Date
    ) {
        self.tenantID = tenantID
        self.teamID = teamID
        self.enterpriseID = enterpriseID
        self.isEnterpriseInstall = isEnterpriseInstall
        self.teamName = teamName
        self.appID = appID
        self.botUserID = botUserID
        self.botID = botID
        self.scopes = scopes
        self.userScopes = userScopes
        self.installerUserID = installerUserID
        self.status = status
        self.settings = settings
        self.tokenExpiresAt = tokenExpiresAt
        self.lastError = lastError
        self.installedAt = installedAt
        self.updatedAt = updatedAt
    }

    /// The tenant id Slack's envelope points at: the enterprise for org-wide installs, else the team.
    public static func tenantID(teamID: String?, enterpriseID: String?, isEnterpriseInstall: Bool) -> String? {
        if isEnterpriseInstall, let enterpriseID, !enterpriseID.isEmpty { return enterpriseID }
        if let teamID, !teamID.isEmpty { return teamID }
        return nil
    }
}

/// Per-tenant overrides set on the dashboard; nil means the deployment's default.
public struct TenantSettings: Sendable, Equatable {
    public var model: String?
    public var systemPrompt: String?
    /// The workspace's own limit: set by its admins (never above the ceiling) or by the operator.
    public var rateLimit: RateLimitSpec?
    /// The operator's limit for this workspace; nil: `RATE_LIMIT_PER_TENANT` is the ceiling.
    public var rateLimitCeiling: RateLimitSpec?
    /// The operator's token budget for this workspace; nil: `TOKEN_BUDGET_PER_TENANT`. Only the operator sets it.
    public var tokenBudget: TokenBudget?
    /// The prompts offered under a new assistant thread, at most `SuggestedPrompt.maxCount`; nil: `SuggestedPrompt.defaults`.
    public var suggestedPrompts: [SuggestedPrompt]?

    public init(
        model: String? = nil, systemPrompt: String? = nil, rateLimit: RateLimitSpec? = nil, rateLimitCeiling: RateLimitSpec? = nil,
        tokenBudget: TokenBudget? = nil, suggestedPrompts: [SuggestedPrompt]? = nil
    ) {
        self.model = model
        self.systemPrompt = systemPrompt
        self.rateLimit = rateLimit
        self.rateLimitCeiling = rateLimitCeiling
        self.tokenBudget = tokenBudget
        self.suggestedPrompts = suggestedPrompts
    }

    /// The prompts a new assistant thread is offered: the workspace's own, else EnableBot's defaults.
    public var effectiveSuggestedPrompts: [SuggestedPrompt] {
        suggestedPrompts ?? SuggestedPrompt.defaults
    }

    /// The budget model calls are held to: the workspace's own, else the deployment's.
    public func effectiveTokenBudget(default deploymentBudget: TokenBudget) -> TokenBudget {
        tokenBudget ?? deploymentBudget
    }

    /// The limit events are held to: the workspace's own, else the operator's, else the deployment's.
    public func effectiveRateLimit(default deploymentLimit: RateLimitSpec) -> RateLimitSpec {
        rateLimit ?? rateLimitCeiling ?? deploymentLimit
    }
}

/// The plaintext secrets of one installation. Lives in memory only while a Slack call needs it.
public struct InstallationTokens: Sendable, Equatable {
    public var botToken: String?
    public var userToken: String?
    public var refreshToken: String?
    public var expiresAt: Date?

    public init(botToken: String?, userToken: String? = nil, refreshToken: String? = nil, expiresAt: Date? = nil) {
        self.botToken = botToken
        self.userToken = userToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
    }
}
