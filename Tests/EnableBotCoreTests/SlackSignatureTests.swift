import EnableBotCore
import Foundation
import Testing

@Suite struct SlackSignatureTests {
    // Slack's published example ("Verifying requests from Slack").
    static let secret = "8f742231b10e8888abcd99yyyzzz85a5"
    static let timestamp = "1531420618"
    static let body = Array((
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            + "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            + "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554"
            + "%2F96rGlfmibIGlgcZRskXaIFfN"
            + "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    ).utf8)
    static let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

    func verifier(at seconds: Double = 1_531_420_618) -> SlackSignatureVerifier {
        SlackSignatureVerifier(signingSecret: Self.secret, now: { Date(timeIntervalSince1970: seconds) })
    }

    func error(
        timestamp: String? = timestamp, signature: String? = signature, body: [UInt8] = body,
        at seconds: Double = 1_531_420_618
    ) -> SignatureError? {
        do throws(SignatureError) {
            try verifier(at: seconds).verify(timestamp: timestamp, signature: signature, body: body)
            return nil
        } catch {
            return error
        }
    }

    @Test func slackExampleSignature() {
        let signed = SlackSignatureVerifier.sign(secret: Self.secret, timestamp: Self.timestamp, body: Self.body)
        #expect(signed == Self.signature)
        #expect(error() == nil)
        #expect(error(signature: Self.signature.uppercased().replacingOccurrences(of: "V0=", with: "v0=")) == nil)
    }

    @Test(arguments: [-300.0, -299, 0, 299, 300, 299.999, -299.999])
    func acceptedWithinWindow(_ offset: Double) {
        #expect(error(at: 1_531_420_618 + offset) == nil)
    }

    @Test(arguments: [-301.0, 301, -300.001, 300.001, 86_400, -1_531_420_618])
    func staleOutsideWindow(_ offset: Double) {
        #expect(error(at: 1_531_420_618 + offset) == .stale)
    }

    @Test func mismatches() {
        var tampered = Self.body
        tampered[0] ^= 1
        #expect(error(body: tampered) == .mismatch)
        #expect(error(body: []) == .mismatch)
        #expect(error(signature: "v0=" + String(repeating: "0", count: 64)) == .mismatch)
        let otherSecret = SlackSignatureVerifier.sign(secret: "other", timestamp: Self.timestamp, body: Self.body)
        #expect(error(signature: otherSecret) == .mismatch)
        // The timestamp is part of what is signed: a fresh timestamp on an old signature fails.
        #expect(error(timestamp: "1531420619", at: 1_531_420_619) == .mismatch)
    }

    @Test func missingHeaders() {
        #expect(error(timestamp: nil) == .missingTimestamp)
        #expect(error(signature: nil) == .missingSignature)
        #expect(error(timestamp: nil, signature: nil) == .missingTimestamp)
    }

    @Test(arguments: [
        "", "abc", "1e9", "-1", "+5", " 1531420618", "1531420618 ", "15314 20618", "1531420618.0",
        "99999999999999999999999", "1234567890123", "0x5B4782CA", "١٥٣١٤٢٠٦١٨", "1531420618\u{0}",
    ])
    func malformedTimestamps(_ timestamp: String) {
        #expect(error(timestamp: timestamp) == .malformedTimestamp)
    }

    @Test func shortTimestampsParseButAreStale() {
        #expect(error(timestamp: "0") == .stale)
        #expect(error(timestamp: "999999999999") == .stale)  // 12 digits: the longest accepted
    }

    @Test(arguments: [
        "", "v0=", "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        "V0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b50",    // 63 digits
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b5033",  // 65 digits
        "v0=g2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",   // non-hex
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b5é",   // non-ASCII, 67 bytes
        "v0=é114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",    // non-ASCII, 67 bytes
        "v0=" + String(repeating: "é", count: 32),
        " v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503 ",
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503,v0=00",
    ])
    func malformedSignatures(_ signature: String) {
        #expect(error(signature: signature) == .malformedSignature)
    }

    @Test func invalidUTF8BodySignedCorrectlyIsAccepted() {
        let body: [UInt8] = [0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80, 0x7b, 0x7d]
        let signature = SlackSignatureVerifier.sign(secret: Self.secret, timestamp: Self.timestamp, body: body)
        #expect(error(signature: signature, body: body) == nil)
        #expect(error(signature: signature, body: Array(body.dropLast())) == .mismatch)
    }

    @Test func staleIsCheckedBeforeTheSignature() {
        // A stale request is refused as stale even with a wrong signature: no HMAC work for replays.
        #expect(error(signature: "v0=" + String(repeating: "0", count: 64), at: 1_531_420_618 + 1000) == .stale)
    }

    @Test func descriptionsAreShortReasons() {
        let all: [SignatureError] = [.missingTimestamp, .missingSignature, .malformedTimestamp, .stale,
                                     .malformedSignature, .mismatch]
        #expect(Set(all.map(\.description)).count == all.count)
        #expect(all.allSatisfy { $0.description.count < 60 && !$0.description.contains(Self.secret) })
    }
}
