import EnableBotCore
import Foundation

/// Signs and checks session cookies and derives CSRF tokens, with HMAC-SHA256 under a key derived from the
/// active encryption key: every replica with the same `ENCRYPTION_KEYS` accepts the same cookies, and rotating
/// the key signs everyone out.
///
/// Cookie format: `base64url(JSON session) "." base64url(HMAC(key, "session." + payload))`.
public struct SessionSigner: Sendable {
    /// Set up once: every dashboard request checks its cookie with it.
    private let key: HMACSHA256Key

    public init(key: [UInt8]) {
        self.key = HMACSHA256Key(key)
    }

    /// The signing key for a deployment: HMAC(active encryption key, "enablebot-session").
    public init(encryptionKey: EncryptionKey) {
        self.init(key: HMACSHA256.authenticate(key: encryptionKey.bytes, message: Array("enablebot-session".utf8)))
    }

    public func encode(_ session: WebSession) -> String {
        let json = (try? JSONEncoder().encode(session)) ?? Data()
        let payload = Self.base64URL(Array(json))
        return payload + "." + Self.base64URL(mac("session." + payload))
    }

    /// The session a cookie carries, or nil when it is malformed, forged or expired.
    public func decode(_ cookie: String, now: Date) -> WebSession? {
        let parts = cookie.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let signature = Self.decodeBase64URL(String(parts[1])),
              constantTimeEquals(signature, mac("session." + parts[0])),
              let json = Self.decodeBase64URL(String(parts[0])),
              let session = try? JSONDecoder().decode(WebSession.self, from: Data(json)),
              session.expiresAt > Int64(now.timeIntervalSince1970)
        else { return nil }
        return session
    }

    /// The CSRF token for forms of this session: bound to its random id, so a token from another session fails.
    public func csrfToken(for session: WebSession) -> String {
        Self.base64URL(mac("csrf." + session.id))
    }

    /// The CSRF token of the login form, bound to the browser's pre-login cookie.
    public func loginCSRFToken(nonce: String) -> String {
        Self.base64URL(mac("login-csrf." + nonce))
    }

    public func verify(csrf: String?, expected: String) -> Bool {
        guard let csrf, !csrf.isEmpty else { return false }
        return constantTimeEquals(Array(csrf.utf8), Array(expected.utf8))
    }

    private func mac(_ message: some StringProtocol) -> [UInt8] {
        key.authenticate(Array(message.utf8))
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    static func decodeBase64URL(_ text: String) -> [UInt8]? {
        guard text.utf8.allSatisfy({ $0 != UInt8(ascii: "=") }) else { return nil }
        var normalized = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while normalized.utf8.count % 4 != 0 { normalized += "=" }
        return Data(base64Encoded: normalized).map { [UInt8]($0) }
    }
}
