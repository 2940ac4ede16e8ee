import Foundation

/// What a sealed value is bound to: the associated data, so a ciphertext copied to another row
/// or field fails.
public struct CipherContext: Sendable, Hashable {
    /// The tenant (Slack team id, or enterprise id for an org-wide install) the secret belongs to.
    public let tenantID: String
    /// The field the secret is stored in, such as `bot_token`.
    public let field: String

    public init(tenantID: String, field: String) {
        self.tenantID = tenantID
        self.field = field
    }
}

/// Encrypts and decrypts secrets (tokens) for storage.
public protocol Cipher: Sendable {
    /// The id of the key new values are sealed with.
    var activeKeyID: String { get }
    /// Encrypts `plaintext`, bound to `context`, into a self-describing text value.
    func seal(_ plaintext: String, context: CipherContext) throws(CipherError) -> String
    /// Decrypts a value made by `seal` with the same context.
    func open(_ sealed: String, context: CipherContext) throws(CipherError) -> String
    /// The key id a sealed value was made with, without decrypting it (for `keys rotate`).
    func keyID(of sealed: String) throws(CipherError) -> String
}

/// AES-256-GCM with key ids and associated data, the product's `Cipher`.
///
/// Sealed format (text, safe in any database column):
///
///     "v1." + base64( idLength(1 byte) || keyID (UTF-8) || nonce(12) || ciphertext || tag(16) )
///
/// The key id travels in clear so a key ring can pick the key and `keys rotate` can find old values.
/// The associated data is `v1`, the key id, the tenant id and the field, each prefixed with its
/// 8-byte big-endian length, so no two different contexts encode to the same bytes and a value
/// moved to another tenant, field or key id fails authentication. Each seal draws a fresh random
/// 96-bit nonce.
public final class TokenCipher: Cipher {
    static let prefix = "v1."
    static let version = "v1"
    static let nonceByteCount = 12

    public let activeKeyID: String
    private let activeKey: [UInt8]
    private let keysByID: [String: [UInt8]]

    /// A cipher over a key ring: the first key seals, every key opens.
    /// Throws `.invalidKey` for an empty list, duplicate ids, invalid ids or keys not 32 bytes long.
    public init(keys: [EncryptionKey]) throws(CipherError) {
        guard let first = keys.first else { throw .invalidKey }
        var keysByID: [String: [UInt8]] = [:]
        for key in keys {
            // EncryptionKey already checks these; a cipher must not depend on that for its format.
            guard EncryptionKey.isValidID(key.id), key.bytes.count == EncryptionKey.byteCount,
                  keysByID.updateValue(key.bytes, forKey: key.id) == nil
            else { throw .invalidKey }
        }
        self.activeKeyID = first.id
        self.activeKey = first.bytes
        self.keysByID = keysByID
    }

    public func seal(_ plaintext: String, context: CipherContext) throws(CipherError) -> String {
        let nonce = SecureRandom.bytes(Self.nonceByteCount)
        let aad = Self.associatedData(keyID: activeKeyID, context: context)
        let (ciphertext, tag) = try AESGCM.seal(
            key: activeKey, nonce: nonce, plaintext: Array(plaintext.utf8), aad: aad
        )
        let id = Array(activeKeyID.utf8)
        var blob: [UInt8] = []
        blob.reserveCapacity(1 + id.count + nonce.count + ciphertext.count + tag.count)
        blob.append(UInt8(id.count))
        blob += id
        blob += nonce
        blob += ciphertext
        blob += tag
        return Self.prefix + Data(blob).base64EncodedString()
    }

    public func open(_ sealed: String, context: CipherContext) throws(CipherError) -> String {
        let parts = try Self.parse(sealed)
        guard let key = keysByID[parts.keyID] else { throw .unknownKeyID }
        let plaintext = try AESGCM.open(
            key: key, nonce: parts.nonce, ciphertext: parts.ciphertext, tag: parts.tag,
            aad: Self.associatedData(keyID: parts.keyID, context: context)
        )
        // Only our own seal made this (the tag verified), and it seals UTF-8; check anyway.
        guard let text = String(validating: plaintext, as: UTF8.self) else { throw .malformedCiphertext }
        return text
    }

    public func keyID(of sealed: String) throws(CipherError) -> String {
        try Self.parse(sealed).keyID
    }

    // MARK: - Format

    struct Parts {
        var keyID: String
        var nonce: [UInt8]
        var ciphertext: [UInt8]
        var tag: [UInt8]
    }

    /// Splits a sealed value into its parts; any deviation from the format is `.malformedCiphertext`.
    static func parse(_ sealed: String) throws(CipherError) -> Parts {
        guard sealed.hasPrefix(prefix) else { throw .malformedCiphertext }
        let encoded = String(sealed.dropFirst(prefix.count))
        // Accept only canonical base64 (what seal writes), so one value has one spelling.
        guard let data = Data(base64Encoded: encoded), data.base64EncodedString() == encoded else {
            throw .malformedCiphertext
        }
        let blob = [UInt8](data)
        guard let idLength = blob.first.map(Int.init),
              (1...EncryptionKey.maxIDLength).contains(idLength),
              blob.count >= 1 + idLength + nonceByteCount + AESGCM.tagByteCount
        else { throw .malformedCiphertext }

        let idEnd = 1 + idLength
        guard let keyID = String(validating: blob[1..<idEnd], as: UTF8.self),
              EncryptionKey.isValidID(keyID)
        else { throw .malformedCiphertext }
        let nonceEnd = idEnd + nonceByteCount
        let tagStart = blob.count - AESGCM.tagByteCount
        return Parts(
            keyID: keyID,
            nonce: Array(blob[idEnd..<nonceEnd]),
            ciphertext: Array(blob[nonceEnd..<tagStart]),
            tag: Array(blob[tagStart...])
        )
    }

    /// The canonical associated data: each part length-prefixed (UInt64 big-endian), so that
    /// e.g. tenant "ab" + field "c" can never collide with tenant "a" + field "bc".
    static func associatedData(keyID: String, context: CipherContext) -> [UInt8] {
        var out: [UInt8] = []
        for part in [version, keyID, context.tenantID, context.field] {
            let bytes = Array(part.utf8)
            let length = UInt64(bytes.count)
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: length >> UInt64(shift)))
            }
            out += bytes
        }
        return out
    }
}
