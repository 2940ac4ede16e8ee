import COpenSSL
import Foundation

/// Cryptographically secure random bytes from OpenSSL's CSPRNG.
///
/// Used for nonces, keys, OAuth state values and session/CSRF tokens. Never use the
/// standard library's `SystemRandomNumberGenerator` for these: one source keeps audits simple.
public enum SecureRandom {
    /// Returns `count` random bytes.
    ///
    /// Stops the process if OpenSSL cannot produce randomness: that means the system's
    /// entropy source is broken, and carrying on with predictable nonces or keys would be worse.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "SecureRandom.bytes: negative count")
        guard count > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: count)
        // RAND_bytes takes an Int32 length, so fill large requests in chunks.
        var offset = 0
        while offset < count {
            let chunk = min(count - offset, Int(Int32.max))
            let ok = out.withUnsafeMutableBufferPointer { buffer in
                RAND_bytes(buffer.baseAddress! + offset, Int32(chunk))
            }
            guard ok == 1 else {
                fatalError("RAND_bytes failed: the system random number generator is unavailable")
            }
            offset += chunk
        }
        return out
    }

    /// A random token of `byteCount` bytes as URL-safe base64 without padding
    /// (safe in URLs, cookies and form fields without escaping). 32 bytes give 43 characters.
    public static func token(byteCount: Int = 32) -> String {
        base64URLEncoded(bytes(byteCount))
    }

    /// URL-safe base64 (RFC 4648 §5) without `=` padding.
    static func base64URLEncoded(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }
}
