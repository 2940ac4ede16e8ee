import Foundation

/// Why a request failed Slack signature verification. The description is a short reason fit for
/// a 401 JSON body: it says what is wrong without revealing the expected signature.
public struct SignatureError: Error, Equatable, CustomStringConvertible, Sendable {
    private enum Code: Sendable, Equatable {
        case missingTimestamp, missingSignature, malformedTimestamp, stale, malformedSignature, mismatch
    }

    private let code: Code

    private init(_ code: Code) {
        self.code = code
    }

    /// No `X-Slack-Request-Timestamp` header.
    public static let missingTimestamp = SignatureError(.missingTimestamp)
    /// No `X-Slack-Signature` header.
    public static let missingSignature = SignatureError(.missingSignature)
    /// The timestamp is not 1–12 ASCII digits.
    public static let malformedTimestamp = SignatureError(.malformedTimestamp)
    /// The timestamp is more than the allowed age away from now, in either direction.
    public static let stale = SignatureError(.stale)
    /// The signature is not `v0=` followed by 64 hex digits.
    public static let malformedSignature = SignatureError(.malformedSignature)
    /// The signature is well formed but does not match the request.
    public static let mismatch = SignatureError(.mismatch)

    public var description: String {
        switch code {
        case .missingTimestamp: "missing X-Slack-Request-Timestamp"
        case .missingSignature: "missing X-Slack-Signature"
        case .malformedTimestamp: "malformed request timestamp"
        case .stale: "request timestamp outside the allowed window"
        case .malformedSignature: "malformed signature"
        case .mismatch: "signature mismatch"
        }
    }
}

/// Verifies that a request comes from Slack: `X-Slack-Signature` must be `v0=` + hex
/// HMAC-SHA256 of `v0:{timestamp}:{raw body}` under the signing secret, and the timestamp must
/// be recent (which limits replays).
public struct SlackSignatureVerifier: Sendable {
    private let secret: HMACSHA256Key
    private let maxAge: TimeInterval
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - signingSecret: the Slack app's signing secret. Configuration refuses an empty one.
    ///   - maxAge: how far the timestamp may be from `now`, in seconds, in either direction.
    ///   - now: the clock, injected so the window can be tested exactly.
    public init(signingSecret: String, maxAge: TimeInterval = 300, now: @escaping @Sendable () -> Date = Date.init) {
        self.secret = HMACSHA256Key(Array(signingSecret.utf8))
        self.maxAge = maxAge
        self.now = now
    }

    /// Checks a request's `X-Slack-Request-Timestamp`, `X-Slack-Signature` and raw body
    /// (bytes exactly as received; they need not be UTF-8). Returns normally only if all are valid.
    public func verify(timestamp: String?, signature: String?, body: [UInt8]) throws(SignatureError) {
        guard let timestamp else { throw .missingTimestamp }
        guard let signature else { throw .missingSignature }
        guard let seconds = Self.parseTimestamp(timestamp) else { throw .malformedTimestamp }
        guard let received = Self.parseSignature(signature) else { throw .malformedSignature }

        // Both directions: a timestamp far in the future is as suspect as an old one.
        let age = now().timeIntervalSince1970 - Double(seconds)
        guard abs(age) <= maxAge else { throw .stale }

        // `v0:{timestamp}:` and the body go in one after the other: the body is not copied to join them.
        let expected = secret.authenticate(Array("v0:\(timestamp):".utf8), body)
        guard constantTimeEquals(expected, received) else { throw .mismatch }
    }

    /// The `X-Slack-Signature` value for a request: `v0=` + lowercase hex. Used by tests and the
    /// benchmark load generator to sign requests the way Slack does.
    public static func sign(secret: String, timestamp: String, body: [UInt8]) -> String {
        let message = baseString(timestamp: timestamp, body: body)
        let mac = HMACSHA256.authenticate(key: Array(secret.utf8), message: message)
        return "v0=" + mac.hexString
    }

    // MARK: - Parsing

    private static func baseString(timestamp: String, body: [UInt8]) -> [UInt8] {
        Array("v0:\(timestamp):".utf8) + body
    }

    /// 1–12 ASCII digits only: no sign, exponent, spaces or Unicode digits. Twelve digits fit an
    /// Int64 with room to spare, so this never overflows.
    static func parseTimestamp(_ text: String) -> Int64? {
        let utf8 = text.utf8
        guard (1...12).contains(utf8.count) else { return nil }
        var value: Int64 = 0
        for c in utf8 {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(c - UInt8(ascii: "0"))
        }
        return value
    }

    /// `v0=` followed by exactly 64 hex digits (either case), decoded to 32 bytes.
    static func parseSignature(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { utf8 -> [UInt8]? in
            guard utf8.count == 3 + 2 * HMACSHA256.byteCount, utf8.starts(with: "v0=".utf8) else { return nil }
            // Decoded in place rather than through `decodeHex`: every request of the ack path comes here.
            var mac = [UInt8](repeating: 0, count: HMACSHA256.byteCount)
            for index in 0..<HMACSHA256.byteCount {
                guard let high = hexDigit(utf8[3 + 2 * index]), let low = hexDigit(utf8[4 + 2 * index]) else { return nil }
                mac[index] = high << 4 | low
            }
            return mac
        }
    }

    private static func hexDigit(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
