import Foundation

/// One audited action: who did what to which tenant. `detail` never holds a secret.
public struct AuditEntry: Sendable, Equatable {
    public var id: Int64
    public var tenantID: String?
    public var actor: String
    public var action: String
    public var detail: String
    public var createdAt: Date
}

/// Append-only record of installs, uninstalls, setting changes, limits hit and Slack errors.
public struct AuditLog: Sendable {
    private let database: any Database
    private let now: @Sendable () -> Date

    public init(database: any Database, now: @escaping @Sendable () -> Date = Date.init) {
        self.database = database
        self.now = now
    }

    public func record(tenantID: String?, actor: String, action: String, detail: String = "") async throws {
        try await database.query(
            "INSERT INTO audit_log (tenant_id, actor, action, detail, created_at) VALUES ($1, $2, $3, $4, $5)",
            [.from(tenantID), .text(actor), .text(action), .text(detail), .from(now())]
        )
    }

    /// Newest first. `tenantID` and `action` filter when given; `before` pages by id.
    public func recent(tenantID: String? = nil, action: String? = nil, before: Int64? = nil, limit: Int = 50) async throws -> [AuditEntry] {
        try await database.query(
            """
            SELECT id, tenant_id, actor, action, detail, created_at FROM audit_log
            WHERE (CAST($1 AS TEXT) IS NULL OR tenant_id = $1) AND (CAST($2 AS TEXT) IS NULL OR action = $2)
                AND (CAST($3 AS BIGINT) IS NULL OR id < $3)
            ORDER BY id DESC LIMIT $4
            """,
            [.from(tenantID), .from(action), .from(before), .integer(Int64(max(1, min(limit, 1000))))]
        ).map { row in
            AuditEntry(
                id: try row.int64("id"), tenantID: row.optionalString("tenant_id"), actor: try row.string("actor"),
                action: try row.string("action"), detail: try row.string("detail"), createdAt: try row.date("created_at")
            )
        }
    }

    /// The distinct actions recorded, for the dashboard's filter.
    public func actions() async throws -> [String] {
        try await database.query("SELECT DISTINCT action FROM audit_log ORDER BY action").map { try $0.string("action") }
    }
}
