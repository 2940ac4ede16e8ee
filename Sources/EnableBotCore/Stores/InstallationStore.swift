import Foundation

/// Installations, with their tokens sealed by the cipher on the way in and opened only on request.
public struct InstallationStore: Sendable {
    /// The encrypted columns, named as the associated data binds them.
    enum TokenField: String, CaseIterable {
        case bot = "bot_token"
        case user = "user_token"
        case refresh = "refresh_token"
        var column: String { rawValue + "_ciphertext" }
    }

    private let database: any Database
    private let cipher: any Cipher
    private let now: @Sendable () -> Date
    /// `findWithTokens` reads, many tenants to a statement when the job worker starts jobs faster than one
    /// statement at a time would read them. A row that does not decode fails only its own read.
    private let withTokens: ReadCoalescer<String, Result<InstallationWithTokens, any Error>>

    public init(database: any Database, cipher: any Cipher, now: @escaping @Sendable () -> Date = Date.init) {
        self.database = database
        self.cipher = cipher
        self.now = now
        withTokens = ReadCoalescer { tenantIDs in
            try await Self.readWithTokens(tenantIDs, database: database, cipher: cipher)
        }
    }

    /// Creates the installation, or updates it on reinstall: metadata and tokens are replaced, the tenant is
    /// active again (unless the operator suspended it: only the operator lifts that), and its settings are kept.
    public func save(_ installation: Installation, tokens: InstallationTokens) async throws {
        let tenant = installation.tenantID
        let timestamp = now()
        let binds: [SQLValue] = [
            .text(tenant), .from(installation.teamID), .from(installation.enterpriseID),
            .from(installation.isEnterpriseInstall), .text(installation.teamName), .text(installation.appID),
            .text(installation.botUserID), .text(installation.botID), .text(installation.scopes),
            .text(installation.userScopes),
            try seal(tokens.botToken, tenant, .bot), try seal(tokens.userToken, tenant, .user),
            try seal(tokens.refreshToken, tenant, .refresh), .from(tokens.expiresAt),
            .text(installation.installerUserID), .from(timestamp),
        ]
        try await database.query(
            """
            INSERT INTO installations (tenant_id, team_id, enterprise_id, is_enterprise_install, team_name, app_id,
                bot_user_id, bot_id, scopes, user_scopes, bot_token_ciphertext, user_token_ciphertext,
                refresh_token_ciphertext, token_expires_at, installer_user_id, status, installed_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'active', $16, $16)
            ON CONFLICT (tenant_id) DO UPDATE SET
                team_id = excluded.team_id, enterprise_id = excluded.enterprise_id,
                is_enterprise_install = excluded.is_enterprise_install, team_name = excluded.team_name,
                app_id = excluded.app_id, bot_user_id = excluded.bot_user_id, bot_id = excluded.bot_id,
                scopes = excluded.scopes, user_scopes = excluded.user_scopes,
                bot_token_ciphertext = excluded.bot_token_ciphertext,
                user_token_ciphertext = excluded.user_token_ciphertext,
                refresh_token_ciphertext = excluded.refresh_token_ciphertext,
                token_expires_at = excluded.token_expires_at, installer_user_id = excluded.installer_user_id,
                status = CASE WHEN installations.status = 'suspended' THEN 'suspended' ELSE 'active' END,
                last_error = NULL, updated_at = excluded.updated_at
            """,
            binds
        )
    }

    public func find(tenantID: String) async throws -> Installation? {
        try await database.queryFirst("SELECT \(Self.columns) FROM installations WHERE tenant_id = $1", [.text(tenantID)])
            .map(Self.installation)
    }

    /// The installation an event belongs to: the org-wide install for enterprise events that carry one,
    /// else the team's own install, else an org-wide install covering the team.
    public func authorize(teamID: String?, enterpriseID: String?, isEnterpriseInstall: Bool) async throws -> Installation? {
        if isEnterpriseInstall, let enterpriseID, let found = try await find(tenantID: enterpriseID) { return found }
        if let teamID, let found = try await find(tenantID: teamID) { return found }
        if let enterpriseID, let found = try await find(tenantID: enterpriseID), found.isEnterpriseInstall { return found }
        return nil
    }

    public func all() async throws -> [Installation] {
        try await database.query("SELECT \(Self.columns) FROM installations ORDER BY installed_at, tenant_id")
            .map(Self.installation)
    }

    /// The installation and its tokens in one read, for the job worker, which needs both for nearly every job. The
    /// tokens fail on their own (`CipherError`) when a ciphertext does not open with the known keys.
    public func findWithTokens(tenantID: String) async throws -> InstallationWithTokens? {
        try await withTokens.value(for: tenantID)?.get()
    }

    /// One statement for `tenantIDs`. The list of placeholders is padded to a power of two (repeating the first
    /// tenant), so that a handful of statement texts serve every batch size and each is prepared once per connection.
    private static func readWithTokens(
        _ tenantIDs: [String], database: any Database, cipher: any Cipher
    ) async throws -> [String: Result<InstallationWithTokens, any Error>] {
        guard let first = tenantIDs.first else { return [:] }
        var count = 1
        while count < tenantIDs.count { count *= 2 }
        let placeholders = (1...count).map { "$\($0)" }.joined(separator: ", ")
        let binds = tenantIDs.map(SQLValue.text) + Array(repeating: .text(first), count: count - tenantIDs.count)
        let rows = try await database.query(
            """
            SELECT \(columns), bot_token_ciphertext, user_token_ciphertext, refresh_token_ciphertext
            FROM installations WHERE tenant_id IN (\(placeholders))
            """,
            binds
        )
        var found: [String: Result<InstallationWithTokens, any Error>] = [:]
        for row in rows {
            guard let tenantID = row.optionalString("tenant_id") else { continue }
            found[tenantID] = Result {
                InstallationWithTokens(
                    installation: try installation(row),
                    tokens: Result { try tokens(row, tenantID, cipher: cipher) }
                )
            }
        }
        return found
    }

    /// Opens the tenant's tokens. Throws `CipherError` when a ciphertext does not open with the known keys.
    public func tokens(tenantID: String) async throws -> InstallationTokens? {
        guard let row = try await database.queryFirst(
            """
            SELECT bot_token_ciphertext, user_token_ciphertext, refresh_token_ciphertext, token_expires_at
            FROM installations WHERE tenant_id = $1
            """,
            [.text(tenantID)]
        ) else { return nil }
        return try tokens(row, tenantID)
    }

    private func tokens(_ row: SQLRow, _ tenantID: String) throws -> InstallationTokens {
        try Self.tokens(row, tenantID, cipher: cipher)
    }

    private static func tokens(_ row: SQLRow, _ tenantID: String, cipher: any Cipher) throws -> InstallationTokens {
        InstallationTokens(
            botToken: try open(row, tenantID, .bot, cipher: cipher),
            userToken: try open(row, tenantID, .user, cipher: cipher),
            refreshToken: try open(row, tenantID, .refresh, cipher: cipher),
            expiresAt: row.optionalDate("token_expires_at")
        )
    }

    /// Stores refreshed tokens (token rotation) and ends any refresh lease. A nil refresh token keeps the one stored.
    public func updateTokens(tenantID: String, botToken: String, refreshToken: String?, expiresAt: Date?) async throws {
        try await database.query(
            """
            UPDATE installations SET bot_token_ciphertext = $2,
                refresh_token_ciphertext = COALESCE($3, refresh_token_ciphertext), token_expires_at = $4, updated_at = $5,
                token_refresh_lease_until = NULL
            WHERE tenant_id = $1
            """,
            [.text(tenantID), try seal(botToken, tenantID, .bot), try seal(refreshToken, tenantID, .refresh),
             .from(expiresAt), .from(now())]
        )
    }

    /// Asks for the right to refresh the tenant's rotating token, shared by every replica: a lease on the row taken
    /// by one conditional UPDATE, which PostgreSQL and SQLite both apply atomically (PostgreSQL re-checks the
    /// condition on the row a concurrent claimer just changed). A lease rather than a lock held across the Slack
    /// call, so no database connection (SQLite has one) or write lock waits on Slack; a replica that dies holding
    /// it delays the next refresh by at most `lease`.
    public func claimTokenRefresh(tenantID: String, margin: TimeInterval, lease: TimeInterval) async throws -> TokenRefreshClaim {
        let at = now()
        let claimed = try await database.queryFirst(
            """
            UPDATE installations SET token_refresh_lease_until = $2
            WHERE tenant_id = $1 AND refresh_token_ciphertext IS NOT NULL
                AND (token_expires_at IS NULL OR token_expires_at < $3)
                AND (token_refresh_lease_until IS NULL OR token_refresh_lease_until <= $4)
            RETURNING bot_token_ciphertext, user_token_ciphertext, refresh_token_ciphertext, token_expires_at
            """,
            [.text(tenantID), .from(at.addingTimeInterval(lease)), .from(at.addingTimeInterval(margin)), .from(at)]
        )
        if let claimed { return .claimed(try tokens(claimed, tenantID)) }
        // Not ours: gone, refreshed already (by another replica, or not due), or being refreshed elsewhere.
        guard let current = try await tokens(tenantID: tenantID) else { return .missing }
        if current.refreshToken == nil { return .fresh(current) }
        if let expiresAt = current.expiresAt, expiresAt.timeIntervalSince(at) >= margin { return .fresh(current) }
        return .heldElsewhere
    }

    /// Gives up a refresh lease (the refresh failed), so another job or replica may try at once.
    public func releaseTokenRefresh(tenantID: String) async throws {
        try await database.query(
            "UPDATE installations SET token_refresh_lease_until = NULL WHERE tenant_id = $1", [.text(tenantID)]
        )
    }

    public func updateSettings(tenantID: String, settings: TenantSettings) async throws {
        try await database.query(
            """
            UPDATE installations SET model = $2, system_prompt = $3, rate_limit = $4, rate_limit_ceiling = $5, updated_at = $6,
                token_budget = $7, suggested_prompts = $8
            WHERE tenant_id = $1
            """,
            [.text(tenantID), .from(settings.model), .from(settings.systemPrompt),
             .from(settings.rateLimit?.description), .from(settings.rateLimitCeiling?.description), .from(now()),
             .from(settings.tokenBudget?.tokensPerMonth), .from(settings.suggestedPrompts.map(SuggestedPrompt.encodeList))]
        )
    }

    /// Returns false when the tenant does not exist.
    @discardableResult
    public func setStatus(tenantID: String, status: Installation.Status) async throws -> Bool {
        try await database.run(
            "UPDATE installations SET status = $2, updated_at = $3 WHERE tenant_id = $1",
            [.text(tenantID), .text(status.rawValue), .from(now())]
        ).affectedRows > 0
    }

    /// Uninstall or revocation: the tenant goes inactive (a suspended one stays suspended) and every token
    /// ciphertext is deleted.
    @discardableResult
    public func deactivateAndDeleteTokens(tenantID: String) async throws -> Bool {
        try await database.run(
            """
            UPDATE installations SET status = CASE WHEN status = 'suspended' THEN 'suspended' ELSE 'inactive' END,
                bot_token_ciphertext = NULL, user_token_ciphertext = NULL,
                refresh_token_ciphertext = NULL, token_expires_at = NULL, updated_at = $2
            WHERE tenant_id = $1
            """,
            [.text(tenantID), .from(now())]
        ).affectedRows > 0
    }

    /// Slack revoked the installing user's token (`tokens_revoked` naming only user tokens): the bot keeps working.
    @discardableResult
    public func deleteUserToken(tenantID: String) async throws -> Bool {
        try await database.run(
            "UPDATE installations SET user_token_ciphertext = NULL, updated_at = $2 WHERE tenant_id = $1 AND user_token_ciphertext IS NOT NULL",
            [.text(tenantID), .from(now())]
        ).affectedRows > 0
    }

    public func recordError(tenantID: String, error: String?) async throws {
        try await database.query(
            "UPDATE installations SET last_error = $2, updated_at = $3 WHERE tenant_id = $1",
            [.text(tenantID), .from(error), .from(now())]
        )
    }

    /// Active tenants with a rotating token that expires before `deadline`.
    public func tenantsWithTokensExpiring(before deadline: Date) async throws -> [String] {
        try await database.query(
            """
            SELECT tenant_id FROM installations
            WHERE status = 'active' AND token_expires_at IS NOT NULL AND token_expires_at < $1
                AND refresh_token_ciphertext IS NOT NULL
            """,
            [.from(deadline)]
        ).map { try $0.string("tenant_id") }
    }

    /// Re-seals every token not sealed with the active key; returns how many values were re-encrypted.
    ///
    /// Runs beside live services: each value is replaced only if it is still the ciphertext that was read
    /// (compare-and-swap on the ciphertext, which a fresh nonce makes unique), so a token refreshed meanwhile is
    /// never overwritten with the stale one; the refreshed value is read again and re-sealed if it needs to be.
    /// One short statement per value, no transaction over the whole table.
    public func reencryptAll() async throws -> Int {
        let rows = try await database.query(
            "SELECT tenant_id, bot_token_ciphertext, user_token_ciphertext, refresh_token_ciphertext FROM installations"
        )
        var count = 0
        for row in rows {
            let tenant = try row.string("tenant_id")
            for field in TokenField.allCases {
                var current = row.optionalString(field.column)
                while let sealed = current, try cipher.keyID(of: sealed) != cipher.activeKeyID {
                    let context = CipherContext(tenantID: tenant, field: field.rawValue)
                    let resealed = try cipher.seal(try cipher.open(sealed, context: context), context: context)
                    let swapped = try await database.run(
                        "UPDATE installations SET \(field.column) = $3 WHERE tenant_id = $1 AND \(field.column) = $2",
                        [.text(tenant), .text(sealed), .text(resealed)]
                    ).affectedRows == 1
                    if swapped {
                        count += 1
                        break
                    }
                    // Changed since it was read (a refresh, a reinstall, an uninstall): look again.
                    current = try await database.queryFirst(
                        "SELECT \(field.column) FROM installations WHERE tenant_id = $1", [.text(tenant)]
                    )?.optionalString(field.column)
                }
            }
        }
        return count
    }

    private func seal(_ value: String?, _ tenantID: String, _ field: TokenField) throws -> SQLValue {
        guard let value, !value.isEmpty else { return .null }
        return .text(try cipher.seal(value, context: CipherContext(tenantID: tenantID, field: field.rawValue)))
    }

    private static func open(_ row: SQLRow, _ tenantID: String, _ field: TokenField, cipher: any Cipher) throws -> String? {
        guard let sealed = row.optionalString(field.column) else { return nil }
        return try cipher.open(sealed, context: CipherContext(tenantID: tenantID, field: field.rawValue))
    }

    static let columns = """
        tenant_id, team_id, enterprise_id, is_enterprise_install, team_name, app_id, bot_user_id, bot_id, scopes,
        user_scopes, installer_user_id, status, model, system_prompt, rate_limit, rate_limit_ceiling, token_expires_at,
        last_error, installed_at, updated_at, token_budget, suggested_prompts
        """

    static func installation(_ row: SQLRow) throws -> Installation {
        Installation(
            tenantID: try row.string("tenant_id"),
            teamID: row.optionalString("team_id"),
            enterpriseID: row.optionalString("enterprise_id"),
            isEnterpriseInstall: try row.bool("is_enterprise_install"),
            teamName: try row.string("team_name"),
            appID: try row.string("app_id"),
            botUserID: try row.string("bot_user_id"),
            botID: try row.string("bot_id"),
            scopes: try row.string("scopes"),
            userScopes: try row.string("user_scopes"),
            installerUserID: try row.string("installer_user_id"),
            status: Installation.Status(rawValue: try row.string("status")) ?? .inactive,
            settings: TenantSettings(
                model: row.optionalString("model"),
                systemPrompt: row.optionalString("system_prompt"),
                rateLimit: row.optionalString("rate_limit").flatMap(RateLimitSpec.init(parsing:)),
                rateLimitCeiling: row.optionalString("rate_limit_ceiling").flatMap(RateLimitSpec.init(parsing:)),
                tokenBudget: row.optionalInt64("token_budget").map(TokenBudget.init(tokensPerMonth:)),
                suggestedPrompts: row.optionalString("suggested_prompts").flatMap(SuggestedPrompt.decodeList)
            ),
            tokenExpiresAt: row.optionalDate("token_expires_at"),
            lastError: row.optionalString("last_error"),
            installedAt: try row.date("installed_at"),
            updatedAt: try row.date("updated_at")
        )
    }
}

/// An installation and its opened tokens, as `InstallationStore.findWithTokens` read them.
public struct InstallationWithTokens: Sendable {
    public var installation: Installation
    public var tokens: Result<InstallationTokens, any Error>
}

/// What `InstallationStore.claimTokenRefresh` found.
public enum TokenRefreshClaim: Sendable, Equatable {
    /// This caller holds the lease: refresh with these tokens, then `updateTokens` (or `releaseTokenRefresh`).
    case claimed(InstallationTokens)
    /// The stored token does not need a refresh (another replica may just have stored it): use it.
    case fresh(InstallationTokens)
    /// Another replica holds the lease and is refreshing: wait for its token.
    case heldElsewhere
    /// No such installation.
    case missing
}
