import EnableBotCore
import Foundation
import Hummingbird

/// The install flow and "Sign in with Slack" side of `FakeSlack`: tests hand out codes with `issueInstallCode` /
/// `issueSignInCode`; oauth.v2.access, auth.test, openid.connect.token, openid.connect.userInfo and users.info
/// answer from what was handed out.
extension FakeSlack {
    /// A workspace (or an Enterprise Grid org, for an org-wide install) that can install the app.
    public struct Workspace: Sendable {
        public var teamID: String?
        public var teamName: String
        public var enterpriseID: String?
        public var enterpriseName: String?
        public var orgWide: Bool
        public var installerUserID: String
        /// Members `users.info` reports as admins (of the workspace).
        public var admins: Set<String>
        /// Members `users.info` reports as admins of the Enterprise Grid org (`enterprise_user.is_admin`).
        public var orgAdmins: Set<String>
        /// Hand out rotating tokens (refresh_token, expires_in).
        public var rotating: Bool
        /// Also hand out a user token for the installer.
        public var userToken: Bool

        public init(
            teamID: String?, teamName: String, enterpriseID: String? = nil, enterpriseName: String? = nil,
            orgWide: Bool = false, installerUserID: String = "UINSTALLER", admins: Set<String> = [],
            orgAdmins: Set<String> = [], rotating: Bool = false, userToken: Bool = false
        ) {
            self.orgAdmins = orgAdmins
            self.teamID = teamID
            self.teamName = teamName
            self.enterpriseID = enterpriseID
            self.enterpriseName = enterpriseName
            self.orgWide = orgWide
            self.installerUserID = installerUserID
            self.admins = admins
            self.rotating = rotating
            self.userToken = userToken
        }
    }

    struct SignIn: Sendable {
        var userID: String
        var teamID: String
        var enterpriseID: String?
        var name: String
    }

    struct OAuthState: Sendable {
        var installCodes: [String: Workspace] = [:]
        var signInCodes: [String: SignIn] = [:]
        var signInTokens: [String: SignIn] = [:]
        /// bot token → the workspace it was issued for
        var botTokens: [String: Workspace] = [:]
        /// Every token handed out, so tests can look for them in the database.
        var issuedTokens: [String] = []
        var badCredentials = 0
        /// What the authorize page does for a browser: install this workspace and send it back here.
        var browserInstall: (workspace: Workspace, callback: String)?
    }

    /// A code the next oauth.v2.access exchanges for an install of `workspace`.
    public func issueInstallCode(_ workspace: Workspace) -> String {
        let code = "code-" + SecureRandom.token(byteCount: 9)
        state.withLockedValue { $0.oauth.installCodes[code] = workspace }
        return code
    }

    /// A code the next openid.connect.token exchanges for `userID` of `teamID`.
    public func issueSignInCode(userID: String, teamID: String, enterpriseID: String? = nil, name: String = "Test Admin") -> String {
        let code = "oidc-" + SecureRandom.token(byteCount: 9)
        let person = SignIn(userID: userID, teamID: teamID, enterpriseID: enterpriseID, name: name)
        state.withLockedValue { $0.oauth.signInCodes[code] = person }
        return code
    }

    /// Lets a real browser through the authorize page: it installs `workspace` and redirects to `callback`
    /// (the web app's `/slack/oauth/callback`, whose port is known only once it runs).
    public func approveBrowserInstalls(of workspace: Workspace, callback: String) {
        state.withLockedValue { $0.oauth.browserInstall = (workspace, callback) }
    }

    /// Changes who `users.info` reports as admins of the workspace (or org) `id`, for every token issued to it.
    public func setAdmins(of id: String, admins: Set<String>, orgAdmins: Set<String> = []) {
        state.withLockedValue { state in
            for (token, workspace) in state.oauth.botTokens where workspace.teamID == id || workspace.enterpriseID == id {
                var changed = workspace
                changed.admins = admins
                changed.orgAdmins = orgAdmins
                state.oauth.botTokens[token] = changed
            }
        }
    }

    /// Every token handed out so far (bot, user and refresh tokens).
    public var issuedTokens: [String] { state.withLockedValue { $0.oauth.issuedTokens } }

    /// Slack's authorize page, for a browser: approves at once and redirects back with a code.
    func authorizePage(state returned: String) -> Response {
        guard let target = state.withLockedValue({ $0.oauth.browserInstall }) else { return Response(status: .notFound) }
        let code = issueInstallCode(target.workspace)
        let location = target.callback + "?" + FormEncoding.encode([("code", code), ("state", returned)])
        return Response(status: .found, headers: [.location: location])
    }

    /// The answer of an install or sign-in method, or nil for any other method.
    func oauthAnswer(_ call: Call, state: inout OAuthState) -> String? {
        let authorization = call.authorization ?? ""
        let form = call.fields
        let basic = "Basic " + Data("\(clientID):\(clientSecret)".utf8).base64EncodedString()
        let bearer = call.bearerToken ?? ""
        switch call.method {
        case "oauth.v2.access":
            guard authorization == basic else { state.badCredentials += 1; return Self.error("invalid_client_id") }
            guard let code = form["code"], let workspace = state.installCodes.removeValue(forKey: code) else {
                return Self.error("invalid_code")
            }
            return Self.install(workspace, into: &state)
        case "auth.test":
            guard let workspace = state.botTokens[bearer] else { return Self.error("invalid_auth") }
            return Self.json([
                "ok": true, "team_id": workspace.teamID ?? "", "user_id": "UBOT",
                "bot_id": "BBOT\(workspace.teamID ?? workspace.enterpriseID ?? "")",
            ])
        case "openid.connect.token":
            guard authorization == basic else { state.badCredentials += 1; return Self.error("invalid_client_id") }
            guard let code = form["code"], let person = state.signInCodes.removeValue(forKey: code) else {
                return Self.error("invalid_code")
            }
            let token = "xoxp-oidc-" + SecureRandom.token(byteCount: 12)
            state.signInTokens[token] = person
            return Self.json(["ok": true, "access_token": token, "token_type": "Bearer", "id_token": "header.payload.signature"])
        case "openid.connect.userInfo":
            guard let person = state.signInTokens[bearer] else { return Self.error("invalid_auth") }
            var info: [String: Any] = [
                "ok": true, "sub": person.userID, "https://slack.com/user_id": person.userID,
                "https://slack.com/team_id": person.teamID, "name": person.name,
            ]
            if let enterprise = person.enterpriseID { info["https://slack.com/enterprise_id"] = enterprise }
            return Self.json(info)
        case "users.info":
            guard let workspace = state.botTokens[bearer] else { return Self.error("invalid_auth") }
            guard let user = form["user"] else { return Self.error("user_not_found") }
            let admin = workspace.admins.contains(user)
            var person: [String: Any] = ["id": user, "is_admin": admin, "is_owner": false, "is_primary_owner": false]
            if let enterprise = workspace.enterpriseID {
                person["enterprise_user"] = [
                    "id": user, "enterprise_id": enterprise, "is_admin": workspace.orgAdmins.contains(user), "is_owner": false,
                ] as [String: Any]
            }
            return Self.json(["ok": true, "user": person])
        default:
            return nil
        }
    }

    private static func install(_ workspace: Workspace, into state: inout OAuthState) -> String {
        let bot = "xoxb-fake-" + SecureRandom.token(byteCount: 12)
        state.botTokens[bot] = workspace
        state.issuedTokens.append(bot)
        var answer: [String: Any] = [
            "ok": true, "access_token": bot, "token_type": "bot", "scope": "app_mentions:read,chat:write,users:read",
            "bot_user_id": "UBOT", "app_id": "AFAKEAPP", "is_enterprise_install": workspace.orgWide,
        ]
        answer["team"] = workspace.orgWide ? NSNull() : ["id": workspace.teamID ?? "", "name": workspace.teamName] as Any
        if let enterprise = workspace.enterpriseID {
            answer["enterprise"] = ["id": enterprise, "name": workspace.enterpriseName ?? enterprise]
        } else {
            answer["enterprise"] = NSNull()
        }
        var user: [String: Any] = ["id": workspace.installerUserID, "scope": ""]
        if workspace.userToken {
            let token = "xoxp-fake-" + SecureRandom.token(byteCount: 12)
            state.issuedTokens.append(token)
            user["access_token"] = token
            user["token_type"] = "user"
            user["scope"] = "search:read"
        }
        answer["authed_user"] = user
        if workspace.rotating {
            let refresh = "xoxe-1-fake-" + SecureRandom.token(byteCount: 12)
            state.issuedTokens.append(refresh)
            answer["refresh_token"] = refresh
            answer["expires_in"] = 43_200
        }
        return json(answer)
    }

    private static func error(_ code: String) -> String { json(["ok": false, "error": code]) }
}
