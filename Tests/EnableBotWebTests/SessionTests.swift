import EnableBotCore
import Foundation
import Testing
@testable import EnableBotWeb

/// Signed session cookies, CSRF tokens and the login limiter, without a server.
@Suite("Sessions")
struct SessionTests {
    static let key = EncryptionKey.generate(id: "k1")

    @Test("a session cookie round-trips; a changed byte, another key or its expiry refuse it")
    func signedCookie() {
        let signer = SessionSigner(encryptionKey: Self.key)
        let now = Date()
        let session = WebSession.workspaceAdmin(tenantID: "TA", userID: "U1", name: "Ann", expiresAt: now.addingTimeInterval(60))
        let cookie = signer.encode(session)
        #expect(signer.decode(cookie, now: now) == session)
        #expect(signer.decode(cookie, now: now.addingTimeInterval(61)) == nil)
        #expect(SessionSigner(encryptionKey: EncryptionKey.generate(id: "k1")).decode(cookie, now: now) == nil)

        // Rewriting the payload (say, to another tenant or the operator role) breaks the signature.
        let parts = cookie.split(separator: ".").map(String.init)
        var forged = session
        forged.role = .operator
        forged.tenantID = "TB"
        let forgedPayload = String(signer.encode(forged).split(separator: ".")[0])
        #expect(signer.decode(forgedPayload + "." + parts[1], now: now) == nil)
        #expect(signer.decode(parts[0], now: now) == nil)
        #expect(signer.decode("", now: now) == nil)
        #expect(signer.decode("a.b.c", now: now) == nil)
    }

    @Test("CSRF tokens are bound to their session and to the login nonce")
    func csrf() {
        let signer = SessionSigner(encryptionKey: Self.key)
        let one = WebSession.operator(expiresAt: Date().addingTimeInterval(60))
        let two = WebSession.operator(expiresAt: Date().addingTimeInterval(60))
        let token = signer.csrfToken(for: one)
        #expect(signer.verify(csrf: token, expected: signer.csrfToken(for: one)))
        #expect(!signer.verify(csrf: token, expected: signer.csrfToken(for: two)))
        #expect(!signer.verify(csrf: nil, expected: token))
        #expect(!signer.verify(csrf: "", expected: token))
        #expect(signer.loginCSRFToken(nonce: "a") != signer.loginCSRFToken(nonce: "b"))
    }

    @Test("workspace admins manage only their tenant; the operator every one")
    func access() {
        let admin = WebSession.workspaceAdmin(tenantID: "TA", userID: "U1", name: "Ann", expiresAt: Date())
        #expect(admin.canManage(tenantID: "TA"))
        #expect(!admin.canManage(tenantID: "TB"))
        #expect(admin.actor == "slack:U1")
        let op = WebSession.operator(expiresAt: Date())
        #expect(op.canManage(tenantID: "TB"))
        #expect(op.actor == "operator")
    }

    @Test("client address: X-Forwarded-For only from a trusted proxy, nearest untrusted hop wins")
    func clientAddress() throws {
        let resolver = ClientAddressResolver(trustedProxies: [try #require(CIDR("10.0.0.0/8")), try #require(CIDR("::1/128"))])
        #expect(resolver.clientAddress(peer: "203.0.113.9", forwardedFor: ["1.2.3.4"]) == "203.0.113.9")
        #expect(resolver.clientAddress(peer: "10.1.2.3", forwardedFor: ["1.2.3.4"]) == "1.2.3.4")
        // A client that sends its own header cannot pick its address: the proxy appended the real one.
        #expect(resolver.clientAddress(peer: "10.1.2.3", forwardedFor: ["6.6.6.6, 198.51.100.7"]) == "198.51.100.7")
        #expect(resolver.clientAddress(peer: "10.1.2.3", forwardedFor: ["198.51.100.7, 10.9.9.9"]) == "198.51.100.7")
        #expect(resolver.clientAddress(peer: "::1", forwardedFor: ["garbage, 2001:db8::1"]) == "2001:db8::1")
        #expect(resolver.clientAddress(peer: "10.1.2.3", forwardedFor: []) == "10.1.2.3")
        #expect(resolver.clientAddress(peer: nil, forwardedFor: ["1.2.3.4"]) == "unknown")
        #expect(ClientAddressResolver(trustedProxies: []).clientAddress(peer: "127.0.0.1", forwardedFor: ["1.2.3.4"]) == "127.0.0.1")
        #expect(CIDR("10.0.0.0/33") == nil && CIDR("nonsense") == nil && CIDR("::ffff:0:0/200") == nil)
        #expect(try #require(CIDR("127.0.0.0/8")).contains("::ffff:127.0.0.1"))
        #expect(try #require(CIDR("192.168.1.7/24")).description == "192.168.1.0/24")
    }

    @Test("a workspace admin's rate limit stays within the operator's: rate and burst")
    func rateLimitCeiling() {
        let ceiling = RateLimitSpec(limit: 100, windowSeconds: 60)
        #expect(RateLimitSpec(limit: 50, windowSeconds: 60).isWithin(ceiling))
        #expect(RateLimitSpec(limit: 100, windowSeconds: 60).isWithin(ceiling))
        #expect(!RateLimitSpec(limit: 101, windowSeconds: 60).isWithin(ceiling))
        #expect(RateLimitSpec(limit: 1, windowSeconds: 1).isWithin(ceiling))
        #expect(!RateLimitSpec(limit: 2, windowSeconds: 1).isWithin(ceiling))
        // The same average over an hour would allow a burst of 6,000 at once.
        #expect(!RateLimitSpec(limit: 6000, windowSeconds: 3600).isWithin(ceiling))
    }

    @Test("settings form: empty means default, bad values are named")
    func settingsForm() throws {
        #expect(try SettingsForm.validate([:]) == TenantSettings())
        #expect(try SettingsForm.validate(["model": " gpt-4o ", "system_prompt": "Hi\r\nthere", "rate_limit": "5/second"])
            == TenantSettings(model: "gpt-4o", systemPrompt: "Hi\nthere", rateLimit: RateLimitSpec(limit: 5, windowSeconds: 1)))
        #expect(throws: SettingsForm.Invalid.self) { try SettingsForm.validate(["model": "gpt 4o; drop"]) }
        #expect(throws: SettingsForm.Invalid.self) { try SettingsForm.validate(["rate_limit": "0/minute"]) }
        #expect(throws: SettingsForm.Invalid.self) { try SettingsForm.validate(["system_prompt": String(repeating: "x", count: 4001)]) }
    }

    @Test("every OAuth failure is a 4xx/5xx page that never echoes arbitrary text")
    func failurePages() {
        #expect(FailurePage(OAuthError.cancelled(.install)).status == .forbidden)
        #expect(FailurePage(OAuthError.stateReused(.install)).status == .conflict)
        #expect(FailurePage(OAuthError.slackUnreachable(.install)).status == .serviceUnavailable)
        #expect(FailurePage(OAuthError.slackRefused(.install, method: "oauth.v2.access", code: "invalid_code")).status == .badGateway)
        #expect(OAuthStateCheck.sanitized("<script>alert(1)</script>") == "unknown_error")
        #expect(OAuthStateCheck.sanitized("invalid_code") == "invalid_code")
        struct Secret: Error { let token = "xoxb-secret" }
        let page = FailurePage(Secret())
        #expect(page.status == .internalServerError)
        #expect(!page.message.contains("xoxb"))
    }
}
