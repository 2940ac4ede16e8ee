import COpenSSL

/// HMAC-SHA256 through OpenSSL.
public enum HMACSHA256 {
    /// The length of an HMAC-SHA256 output in bytes.
    public static let byteCount = 32

    /// Returns the 32-byte HMAC-SHA256 of `message` under `key`.
    public static func authenticate(key: [UInt8], message: [UInt8]) -> [UInt8] {
        HMACSHA256Key(key).authenticate(message)
    }
}

/// A key set up once for HMAC-SHA256: every message is authenticated on a copy of a context that already holds the
/// key, so OpenSSL neither looks the algorithm up again (OpenSSL 3's one-shot `HMAC()` fetches it from the provider
/// on every call, under a lock) nor hashes the key again. For the signing secret, used on every Slack request.
///
/// Stops the process if OpenSSL fails: HMAC-SHA256 with in-memory buffers cannot fail unless the library itself is
/// broken, and callers must never treat that as "no match".
public final class HMACSHA256Key: @unchecked Sendable {
    /// Initialised with the key and never changed afterwards, only duplicated (which reads it): safe to share.
    private let template: OpaquePointer

    // Fetched once and never freed; OpenSSL's algorithm objects are reference-counted and safe to share.
    nonisolated(unsafe) private static let algorithm: OpaquePointer = {
        guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { fatalError("OpenSSL has no HMAC") }
        return mac
    }()

    public init(_ key: [UInt8]) {
        guard let context = EVP_MAC_CTX_new(Self.algorithm) else { fatalError("OpenSSL could not make an HMAC context") }
        let initialised = "digest".withCString { name in
            "SHA256".withCString { digest in
                var parameters = [
                    OSSL_PARAM_construct_utf8_string(name, UnsafeMutablePointer(mutating: digest), 0),
                    OSSL_PARAM_construct_end(),
                ]
                return key.withNonNullBytes { keyPointer in
                    EVP_MAC_init(context, keyPointer, key.count, &parameters)
                }
            }
        }
        guard initialised == 1 else { fatalError("OpenSSL HMAC-SHA256 failed to take the key") }
        template = context
    }

    deinit { EVP_MAC_CTX_free(template) }

    /// The 32-byte HMAC-SHA256 of the concatenation of `parts` (no copy is made to join them).
    public func authenticate(_ parts: [UInt8]...) -> [UInt8] {
        guard let context = EVP_MAC_CTX_dup(template) else { fatalError("OpenSSL could not copy an HMAC context") }
        defer { EVP_MAC_CTX_free(context) }
        for part in parts where !part.isEmpty {
            let updated = part.withUnsafeBufferPointer { EVP_MAC_update(context, $0.baseAddress, $0.count) }
            guard updated == 1 else { fatalError("OpenSSL HMAC-SHA256 failed") }
        }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length = 0
        let finished = out.withUnsafeMutableBufferPointer { EVP_MAC_final(context, $0.baseAddress, &length, $0.count) }
        guard finished == 1, length == HMACSHA256.byteCount else { fatalError("OpenSSL HMAC-SHA256 failed") }
        return Array(out.prefix(HMACSHA256.byteCount))
    }
}

/// Compares two byte strings in time independent of their contents (OpenSSL `CRYPTO_memcmp`).
///
/// Use this for MACs, tokens and anything else an attacker could guess byte by byte.
/// Different lengths return `false` at once: lengths are public here (a MAC's size is fixed),
/// and only the contents must not leak through timing.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    guard !a.isEmpty else { return true }
    return a.withUnsafeBytes { aBuffer in
        b.withUnsafeBytes { bBuffer in
            CRYPTO_memcmp(aBuffer.baseAddress, bBuffer.baseAddress, a.count) == 0
        }
    }
}

extension Array where Element == UInt8 {
    /// The bytes as lowercase hexadecimal, two digits per byte.
    public var hexString: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Decodes hexadecimal text strictly: an even number of `0-9a-fA-F` characters and nothing else
/// (no prefix, no whitespace). Returns nil otherwise; never traps, whatever the input.
public func decodeHex(_ s: String) -> [UInt8]? {
    let text = Array(s.utf8)
    guard text.count % 2 == 0 else { return nil }
    var out = [UInt8]()
    out.reserveCapacity(text.count / 2)
    var index = 0
    while index < text.count {
        guard let high = hexValue(text[index]), let low = hexValue(text[index + 1]) else { return nil }
        out.append(high << 4 | low)
        index += 2
    }
    return out
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
    default: nil
    }
}
