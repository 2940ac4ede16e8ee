import Foundation

/// What a dashboard session cookie is checked against on every request, so sessions can be ended server-side
/// although the cookie itself is signed and self-contained:
/// - each person who signs in ("principal") has a session version; a cookie issued under an older version is
///   refused, so bumping it ends every copy of every cookie of that person ("sign out everywhere");
/// - a single session that signed out is listed until its cookie would have expired anyway;
/// - a workspace admin's admin status is re-checked with Slack periodically; the time of the last check lives
///   here, so every web replica sees it.
public struct DashboardSessions: Sendable {
    public struct Principal: Sendable, Equatable {
        public var sessionVersion: Int
        public var adminCheckedAt: Date?
    }

    private let database: any Database
    private let now: @Sendable () -> Date

    public init(database: any Database, now: @escaping @Sendable () -> Date = Date.init) {
        self.database = database
        self.now = now
    }

    /// The principal's row, created at version 0 the first time someone signs in as it.
    public func signIn(principal: String, tenantID: String?, adminCheckedAt: Date?) async throws -> Principal {
        let row = try await database.queryFirst(
            """
            INSERT INTO dashboard_principals (principal, tenant_id, session_version, admin_checked_at) VALUES ($1, $2, 0, $3)
            ON CONFLICT (principal) DO UPDATE SET admin_checked_at = excluded.admin_checked_at
            RETURNING session_version, admin_checked_at
            """,
            [.text(principal), .from(tenantID), .from(adminCheckedAt)]
        )
        guard let row else { throw DatabaseError(.query, "dashboard_principals: no row returned") }
        return Principal(sessionVersion: try row.int("session_version"), adminCheckedAt: row.optionalDate("admin_checked_at"))
    }

    public func principal(_ principal: String) async throws -> Principal? {
        try await database.queryFirst(
            "SELECT session_version, admin_checked_at FROM dashboard_principals WHERE principal = $1", [.text(principal)]
        ).map { Principal(sessionVersion: try $0.int("session_version"), adminCheckedAt: $0.optionalDate("admin_checked_at")) }
    }

    /// Ends every session of `principal`.
    public func endAll(principal: String) async throws {
        try await database.query(
            "UPDATE dashboard_principals SET session_version = session_version + 1 WHERE principal = $1", [.text(principal)]
        )
    }

    /// Ends every session of every admin of `tenantID` (the operator's "sign out this workspace's admins").
    @discardableResult
    public func endAll(tenantID: String) async throws -> Int {
        try await database.run(
            "UPDATE dashboard_principals SET session_version = session_version + 1 WHERE tenant_id = $1", [.text(tenantID)]
        ).affectedRows
    }

    public func markAdminChecked(principal: String) async throws {
        try await database.query(
            "UPDATE dashboard_principals SET admin_checked_at = $2 WHERE principal = $1", [.text(principal), .from(now())]
        )
    }

    /// Ends one session: its id is refused until `expiresAt`, when the cookie is refused anyway.
    public func revoke(sessionID: String, expiresAt: Date) async throws {
        try await database.query(
            "INSERT INTO revoked_sessions (session_id, expires_at) VALUES ($1, $2) ON CONFLICT (session_id) DO NOTHING",
            [.text(sessionID), .from(expiresAt)]
        )
    }

    public func isRevoked(sessionID: String) async throws -> Bool {
        try await database.queryFirst("SELECT 1 AS revoked FROM revoked_sessions WHERE session_id = $1", [.text(sessionID)]) != nil
    }

    /// Forgets revocations whose cookies have expired; returns how many.
    @discardableResult
    public func purgeExpired() async throws -> Int {
        try await database.run("DELETE FROM revoked_sessions WHERE expires_at < $1", [.from(now())]).affectedRows
    }
}
