import EnableBotCore
import Foundation

/// The Slack Web API methods EnableBot uses, at `/api/<method>`. Answers are Slack's: HTTP 200 with `{"ok":true,…}`
/// or `{"ok":false,"error":"…"}`. A bot token works only in the workspace it was issued for.
struct WebAPI: Sendable {
    let state: EmulatorState
    let clientID: String
    let clientSecret: String
    let origin: String

    typealias Answer = [String: Any]

    func answer(_ call: APICall) async -> Answer {
        do {
            var answer = try await dispatch(call)
            answer["ok"] = true
            return answer
        } catch let error as EmulatorAPIError {
            return ["ok": false, "error": error.code]
        } catch {
            return ["ok": false, "error": "internal_error"]
        }
    }

    private func dispatch(_ call: APICall) async throws -> Answer {
        switch call.method {
        case "api.test": return [:]
        case "oauth.v2.access": return try await oauthAccess(call)
        case "openid.connect.token": return try await openIDToken(call)
        case "openid.connect.userInfo": return try await openIDUserInfo(call)
        case "auth.test":
            let (installation, workspace) = try await bot(call)
            return [
                "url": "\(origin)/chat?team=\(workspace.id)", "team": workspace.name, "user": "enablebot",
                "team_id": installation.teamID, "user_id": workspace.botUserID, "bot_id": workspace.botID,
                "is_enterprise_install": false,
            ]
        case "users.info":
            let (_, workspace) = try await bot(call)
            guard let id = call.string("user"), let user = workspace.user(id) else { throw EmulatorAPIError("user_not_found") }
            return ["user": [
                "id": user.id, "team_id": workspace.id, "name": user.name, "real_name": user.realName,
                "is_admin": user.isAdmin, "is_owner": user.isAdmin, "is_primary_owner": false, "is_bot": user.isBot,
                "profile": ["real_name": user.realName, "display_name": user.name],
            ] as [String: Any]]
        case "chat.postMessage", "chat.postEphemeral", "chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream":
            return try await Messaging(api: self).answer(call)
        case "assistant.threads.setStatus", "assistant.threads.setSuggestedPrompts", "assistant.threads.setTitle":
            return try await Messaging(api: self).assistant(call)
        default:
            throw EmulatorAPIError("unknown_method")
        }
    }

    /// The installation and workspace of the call's bot token.
    func bot(_ call: APICall) async throws -> (EmulatedInstallation, EmulatedWorkspace) {
        guard let token = call.token else { throw EmulatorAPIError("not_authed") }
        guard let installation = await state.installation(token: token),
              let workspace = await state.world.workspace(installation.teamID) else { throw EmulatorAPIError("invalid_auth") }
        return (installation, workspace)
    }

    private func checkClient(_ call: APICall) throws {
        guard let credentials = call.clientCredentials else { throw EmulatorAPIError("invalid_arguments") }
        guard credentials.id == clientID else { throw EmulatorAPIError("invalid_client_id") }
        guard constantTimeEquals(Array(credentials.secret.utf8), Array(clientSecret.utf8)) else { throw EmulatorAPIError("bad_client_secret") }
    }

    private func oauthAccess(_ call: APICall) async throws -> Answer {
        try checkClient(call)
        if call.string("grant_type") == "refresh_token" { throw EmulatorAPIError("invalid_refresh_token") }  // no rotation here
        guard let code = call.string("code") else { throw EmulatorAPIError("invalid_code") }
        let installation = try await state.redeemInstallCode(code, redirectURI: call.string("redirect_uri")).get()
        guard let workspace = await state.world.workspace(installation.teamID) else { throw EmulatorAPIError("team_not_found") }
        return [
            "access_token": installation.botToken, "token_type": "bot", "scope": installation.scopes,
            "bot_user_id": workspace.botUserID, "app_id": "A0ENABLEBOT",
            "team": ["id": workspace.id, "name": workspace.name], "enterprise": NSNull(), "is_enterprise_install": false,
            "authed_user": ["id": installation.installerUserID],
        ]
    }

    private func openIDToken(_ call: APICall) async throws -> Answer {
        try checkClient(call)
        guard let code = call.string("code"), let token = await state.redeemSignInCode(code) else { throw EmulatorAPIError("invalid_code") }
        return ["access_token": token, "token_type": "Bearer", "id_token": "emulator.unsigned.jwt"]
    }

    private func openIDUserInfo(_ call: APICall) async throws -> Answer {
        guard let token = call.token else { throw EmulatorAPIError("not_authed") }
        guard let grant = await state.signIn(token: token), let workspace = await state.world.workspace(grant.teamID),
              let user = workspace.user(grant.userID) else { throw EmulatorAPIError("invalid_auth") }
        return [
            "sub": user.id, "https://slack.com/user_id": user.id, "https://slack.com/team_id": workspace.id,
            "https://slack.com/team_name": workspace.name, "https://slack.com/team_domain": workspace.domain,
            "name": user.realName, "given_name": user.realName, "email": "\(user.name)@\(workspace.domain).example",
            "email_verified": true,
        ]
    }
}
