/// Why sealing or opening a secret failed.
///
/// A struct around a private enum (rather than a public enum) so new reasons can be added later
/// without breaking callers that switch over it. Descriptions are short, fixed strings: they never
/// carry key material, plaintext or ciphertext, so they are safe to log or show.
public struct CipherError: Error, CustomStringConvertible, Equatable, Sendable {
    private enum Code: Sendable, Equatable {
        case malformedCiphertext
        case unknownKeyID
        case authenticationFailed
        case invalidKey
        case invalidNonce
        case invalidTag
        case openSSLFailure
    }

    private let code: Code

    private init(_ code: Code) {
        self.code = code
    }

    /// The sealed value is not in a format this version understands (bad prefix, bad base64, too short…).
    public static let malformedCiphertext = CipherError(.malformedCiphertext)
    /// The sealed value names a key id that is not in the configured key list.
    public static let unknownKeyID = CipherError(.unknownKeyID)
    /// The tag did not verify: wrong key, tampered bytes, or a value bound to another tenant or field.
    /// These are deliberately indistinguishable to the caller.
    public static let authenticationFailed = CipherError(.authenticationFailed)
    /// A key of the wrong length, or an empty or inconsistent key list.
    public static let invalidKey = CipherError(.invalidKey)
    /// A zero-length nonce (which would leak the GCM authentication key).
    public static let invalidNonce = CipherError(.invalidNonce)
    /// A tag that is not exactly 16 bytes; shorter tags are refused rather than passed to OpenSSL.
    public static let invalidTag = CipherError(.invalidTag)
    /// OpenSSL reported an error in a call that should not fail for valid parameters.
    public static let openSSLFailure = CipherError(.openSSLFailure)

    public var description: String {
        switch code {
        case .malformedCiphertext: "malformed ciphertext"
        case .unknownKeyID: "ciphertext uses an unknown key id"
        case .authenticationFailed: "ciphertext failed authentication"
        case .invalidKey: "invalid encryption key"
        case .invalidNonce: "invalid nonce"
        case .invalidTag: "invalid authentication tag length"
        case .openSSLFailure: "OpenSSL cipher operation failed"
        }
    }
}
