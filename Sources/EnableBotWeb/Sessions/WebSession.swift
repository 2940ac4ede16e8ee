import EnableBotCore
import Foundation

/// Who is signed in to the dashboard. Carried in a signed cookie, so any web replica can read it without
/// shared memory; nothing in it is secret (no token, no password), only its integrity matters.
public struct WebSession: Sendable, Equatable, Codable {
    public enum Role: String, Sendable, Codable {
        /// The deployment's operator (ADMIN_PASSWORD): every workspace, the system page.
        case `operator`
        /// An admin (or the installer) of one workspace, signed in with Slack: that workspace only.
        case workspaceAdmin = "workspace_admin"
    }

    /// Random per sign-in; the CSRF token is derived from it.
    public var id: String
    public var role: Role
    /// The tenant a workspace admin manages; nil for the operator.
    public var tenantID: String?
    /// The Slack user id of a workspace admin.
    public var userID: String?
    public var displayName: String
    /// Epoch seconds after which the cookie is refused.
    public var expiresAt: Int64
    /// The principal's session version when this session began; once it is bumped the cookie is refused.
    public var version: Int

    enum CodingKeys: String, CodingKey {
        case id = "sid", role, tenantID = "tid", userID = "uid", displayName = "name", expiresAt = "exp", version = "ver"
    }

    public static func `operator`(expiresAt: Date, version: Int = 0) -> WebSession {
        WebSession(
            id: SecureRandom.token(byteCount: 16), role: .operator, tenantID: nil, userID: nil,
            displayName: "Operator", expiresAt: Int64(expiresAt.timeIntervalSince1970), version: version
        )
    }

    public static func workspaceAdmin(tenantID: String, userID: String, name: String, expiresAt: Date, version: Int = 0) -> WebSession {
        WebSession(
            id: SecureRandom.token(byteCount: 16), role: .workspaceAdmin, tenantID: tenantID, userID: userID,
            displayName: name, expiresAt: Int64(expiresAt.timeIntervalSince1970), version: version
        )
    }

    /// Who signed in, as `DashboardSessions` keys it: the operator, or one Slack user of one tenant.
    public var principal: String {
        switch role {
        case .operator: "operator"
        case .workspaceAdmin: Self.principal(tenantID: tenantID ?? "", userID: userID ?? "")
        }
    }

    public static func principal(tenantID: String, userID: String) -> String { "slack:\(tenantID):\(userID)" }

    public var expiry: Date { Date(timeIntervalSince1970: TimeInterval(expiresAt)) }

    public var isOperator: Bool { role == .operator }

    /// The actor named in audit entries.
    public var actor: String {
        switch role {
        case .operator: "operator"
        case .workspaceAdmin: "slack:\(userID ?? "unknown")"
        }
    }

    /// Whether this session may see and change `tenantID`.
    public func canManage(tenantID: String) -> Bool {
        isOperator || self.tenantID == tenantID
    }
}
