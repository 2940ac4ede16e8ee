import EnableBotCore
import Foundation

/// Who may manage an installation from the dashboard, asked of Slack at sign-in and again while a session is used:
/// - a workspace's own installation: its installer, or an admin or owner of that workspace;
/// - an org-wide installation (it answers in every workspace of the org): its installer, or an admin or owner of
///   the org. An admin of one workspace in the org is not enough.
struct AdminCheck: Sendable {
    /// How long a workspace admin's confirmed status holds before Slack is asked again.
    static let recheckInterval: TimeInterval = 15 * 60

    let installations: InstallationStore
    let slack: SlackWebClient

    /// Whether `userID` may manage `installation`. Throws `OAuthError.slackRefused`/`.slackUnreachable` when Slack
    /// could not say.
    func mayManage(_ installation: Installation, userID: String) async throws -> Bool {
        if !installation.installerUserID.isEmpty, userID == installation.installerUserID { return true }
        guard let botToken = try await installations.tokens(tenantID: installation.tenantID)?.botToken else { return false }
        let info: SlackUserInfo
        do {
            info = try await slack.usersInfo(token: botToken, userID: userID)
        } catch {
            throw OAuthStateCheck.slackFailure(error, flow: .signIn)
        }
        guard info.user.id == userID else { return false }
        if installation.isEnterpriseInstall {
            return info.isOrgAdmin(of: installation.enterpriseID ?? installation.tenantID)
        }
        return info.isWorkspaceAdmin
    }
}
