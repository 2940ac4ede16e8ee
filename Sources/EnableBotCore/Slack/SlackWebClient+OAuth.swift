import Foundation

/// `oauth.v2.access`: what Slack returns when an install's code is exchanged. Only the fields we keep.
public struct SlackOAuthV2Access: Decodable, Sendable {
    public struct Team: Decodable, Sendable {
        public let id: String
        public let name: String?
    }

    public struct AuthedUser: Decodable, Sendable {
        public let id: String
        public let scope: String?
        public let accessToken: String?
        public let tokenType: String?
        public let refreshToken: String?
        public let expiresIn: Int?

        enum CodingKeys: String, CodingKey {
            case id, scope
            case accessToken = "access_token", tokenType = "token_type", refreshToken = "refresh_token", expiresIn = "expires_in"
        }
    }

    public let accessToken: String?
    public let tokenType: String?
    public let scope: String?
    public let botUserID: String?
    public let appID: String?
    public let team: Team?
    public let enterprise: Team?
    public let isEnterpriseInstall: Bool?
    public let authedUser: AuthedUser?
    /// Set when the app uses token rotation.
    public let refreshToken: String?
    public let expiresIn: Int?

    enum CodingKeys: String, CodingKey {
        case scope, team, enterprise
        case accessToken = "access_token", tokenType = "token_type", botUserID = "bot_user_id", appID = "app_id"
        case isEnterpriseInstall = "is_enterprise_install", authedUser = "authed_user"
        case refreshToken = "refresh_token", expiresIn = "expires_in"
    }
}

/// `auth.test`: who a token belongs to; for a bot token, the bot id.
public struct SlackAuthTest: Decodable, Sendable {
    public let teamID: String?
    public let userID: String?
    public let botID: String?

    enum CodingKeys: String, CodingKey {
        case teamID = "team_id", userID = "user_id", botID = "bot_id"
    }
}

/// `openid.connect.token` ("Sign in with Slack").
public struct SlackOpenIDToken: Decodable, Sendable {
    public let accessToken: String

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
    }
}

/// `openid.connect.userInfo`: the signed-in person and their workspace.
public struct SlackOpenIDUserInfo: Decodable, Sendable {
    public let userID: String
    public let teamID: String
    public let enterpriseID: String?
    public let name: String?
    public let teamName: String?

    enum CodingKeys: String, CodingKey {
        case userID = "https://slack.com/user_id", teamID = "https://slack.com/team_id"
        case enterpriseID = "https://slack.com/enterprise_id", name, teamName = "https://slack.com/team_name"
    }
}

/// `users.info`, reduced to what decides who may manage a workspace.
public struct SlackUserInfo: Decodable, Sendable {
    public struct User: Decodable, Sendable {
        public let id: String
        public let isAdmin: Bool?
        public let isOwner: Bool?
        public let isPrimaryOwner: Bool?
        /// Present for members of an Enterprise Grid org: their role in the org, not in one workspace.
        public let enterpriseUser: EnterpriseUser?

        enum CodingKeys: String, CodingKey {
            case id, isAdmin = "is_admin", isOwner = "is_owner", isPrimaryOwner = "is_primary_owner"
            case enterpriseUser = "enterprise_user"
        }
    }

    public struct EnterpriseUser: Decodable, Sendable {
        public let enterpriseID: String?
        public let isAdmin: Bool?
        public let isOwner: Bool?

        enum CodingKeys: String, CodingKey {
            case enterpriseID = "enterprise_id", isAdmin = "is_admin", isOwner = "is_owner"
        }
    }

    public let user: User

    /// Admins and owners (and the primary owner) of the workspace.
    public var isWorkspaceAdmin: Bool {
        user.isAdmin == true || user.isOwner == true || user.isPrimaryOwner == true
    }

    /// Admins and owners of the Enterprise Grid org `enterpriseID` (an admin of one workspace in it is not one).
    public func isOrgAdmin(of enterpriseID: String) -> Bool {
        guard let org = user.enterpriseUser, org.enterpriseID == nil || org.enterpriseID == enterpriseID else { return false }
        return org.isAdmin == true || org.isOwner == true
    }
}

extension SlackWebClient {
    /// Exchanges an install's code for tokens, authenticating with the app's client id and secret (HTTP Basic).
    public func oauthV2Access(code: String, redirectURI: String, clientID: String, clientSecret: String) async throws -> SlackOAuthV2Access {
        try await call(
            "oauth.v2.access", params: [("code", code), ("redirect_uri", redirectURI)],
            auth: .basic(clientID: clientID, clientSecret: clientSecret), as: SlackOAuthV2Access.self
        )
    }

    public func authTest(token: String) async throws -> SlackAuthTest {
        try await call("auth.test", params: [], auth: .bearer(token), as: SlackAuthTest.self)
    }

    /// Exchanges a "Sign in with Slack" code for the person's OpenID access token.
    public func openIDConnectToken(code: String, redirectURI: String, clientID: String, clientSecret: String) async throws -> SlackOpenIDToken {
        try await call(
            "openid.connect.token",
            params: [("code", code), ("redirect_uri", redirectURI), ("grant_type", "authorization_code")],
            auth: .basic(clientID: clientID, clientSecret: clientSecret), as: SlackOpenIDToken.self
        )
    }

    public func openIDConnectUserInfo(accessToken: String) async throws -> SlackOpenIDUserInfo {
        try await call("openid.connect.userInfo", params: [], auth: .bearer(accessToken), as: SlackOpenIDUserInfo.self)
    }

    /// `users.info` with the workspace's bot token (scope `users:read`).
    public func usersInfo(token: String, userID: String) async throws -> SlackUserInfo {
        try await call("users.info", params: [("user", userID)], auth: .bearer(token), as: SlackUserInfo.self)
    }
}
