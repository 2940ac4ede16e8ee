import COpenSSL

/// HMAC-SHA256 through OpenSSL.
public enum HMACSHA256 {
    /// The length of an HMAC-SHA256 output in bytes.
    public static let byteCount = 32

    /// Returns the 32-byte HMAC-SHA256 of `message` under `key`.
    ///
    /// Stops the process if OpenSSL fails: HMAC-SHA256 with in-memory buffers cannot fail
    /// unless the library itself is broken, and callers must never treat that as "no match".
    public static func authenticate(key: [UInt8], message: [UInt8]) -> [UInt8] {
        // HMAC() takes the key length as an Int32; keys are secrets from configuration, never that large.
        precondition(key.count <= Int(Int32.max), "HMAC key too long")
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var outLength: UInt32 = 0
        let result = key.withNonNullBytes { keyPointer in
            message.withNonNullBytes { messagePointer in
                out.withUnsafeMutableBufferPointer { outBuffer in
                    HMAC(
                        EVP_sha256(), keyPointer, Int32(key.count),
                        messagePointer, message.count,
                        outBuffer.baseAddress, &outLength
                    )
                }
            }
        }
        guard result != nil, outLength == UInt32(byteCount) else {
            fatalError("OpenSSL HMAC-SHA256 failed")
        }
        return Array(out.prefix(byteCount))
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
