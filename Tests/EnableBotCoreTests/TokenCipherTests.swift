import EnableBotCore
import Foundation
import Testing

@Suite struct TokenCipherTests {
    let key1 = EncryptionKey.generate(id: "k1")
    let context = CipherContext(tenantID: "T0123ABC", field: "bot_token")

    func cipher(_ keys: EncryptionKey...) throws -> TokenCipher {
        try TokenCipher(keys: keys)
    }

    /// The binary blob inside a sealed value.
    func blob(_ sealed: String) throws -> [UInt8] {
        #expect(sealed.hasPrefix("v1."))
        return [UInt8](try #require(Data(base64Encoded: String(sealed.dropFirst(3)))))
    }

    func text(_ blob: [UInt8]) -> String {
        "v1." + Data(blob).base64EncodedString()
    }

    static let plaintexts = ["xoxb-1234-5678-abcdef", "", "héllo wörld 🔐 日本語", String(repeating: "x", count: 10_000)]

    @Test(arguments: plaintexts)
    func roundTrip(_ plaintext: String) throws {
        let cipher = try cipher(key1)
        let sealed = try cipher.seal(plaintext, context: context)
        #expect(!sealed.contains(plaintext) || plaintext.isEmpty)
        #expect(try cipher.open(sealed, context: context) == plaintext)
        #expect(try cipher.keyID(of: sealed) == "k1")
    }

    @Test func sealingTwiceGivesDifferentValues() throws {
        let cipher = try cipher(key1)
        let a = try cipher.seal("xoxb-same", context: context)
        let b = try cipher.seal("xoxb-same", context: context)
        #expect(a != b)
        // The difference is the nonce (bytes 1+2 ..< 1+2+12 after the "k1" id).
        #expect(try blob(a)[3..<15] != blob(b)[3..<15])
    }

    @Test func everyFlippedBitIsDetected() throws {
        let cipher = try cipher(key1)
        let original = try blob(cipher.seal("xoxb-1234-5678-abcdef", context: context))
        let headerLength = 1 + 2  // id length byte + "k1"
        var flips = 0
        for byteIndex in original.indices {
            for bit in 0..<8 {
                var tampered = original
                tampered[byteIndex] ^= 1 << bit
                do throws(CipherError) {
                    _ = try cipher.open(text(tampered), context: context)
                    Issue.record("byte \(byteIndex) bit \(bit): tampered value opened")
                } catch {
                    if byteIndex < headerLength {
                        // The key-id bytes: a different or impossible id, never a decryption attempt with it.
                        #expect(error == .malformedCiphertext || error == .unknownKeyID, "byte \(byteIndex) bit \(bit)")
                    } else {
                        #expect(error == .authenticationFailed, "byte \(byteIndex) bit \(bit)")
                    }
                }
                flips += 1
            }
        }
        #expect(flips == original.count * 8)
    }

    @Test func truncatedValuesFail() throws {
        let cipher = try cipher(key1)
        let original = try blob(cipher.seal("xoxb-1234", context: context))
        for dropped in 1...16 {
            #expect(throws: CipherError.self, "\(dropped) bytes dropped") {
                try cipher.open(text(Array(original.dropLast(dropped))), context: context)
            }
        }
        // Dropping the whole tag leaves too few bytes for the format: malformed, not a short tag.
        let tooShort = try blob(cipher.seal("", context: context)).dropLast(1)
        #expect(throws: CipherError.malformedCiphertext) { try cipher.open(text(Array(tooShort)), context: context) }
    }

    @Test func wrongKeyWithSameIDFails() throws {
        let sealed = try cipher(key1).seal("xoxb-secret", context: context)
        let impostor = try cipher(EncryptionKey.generate(id: "k1"))
        #expect(throws: CipherError.authenticationFailed) { try impostor.open(sealed, context: context) }
    }

    @Test func unknownKeyIDFails() throws {
        let sealed = try cipher(key1).seal("xoxb-secret", context: context)
        let other = try cipher(EncryptionKey.generate(id: "k2"))
        #expect(throws: CipherError.unknownKeyID) { try other.open(sealed, context: context) }
        #expect(try other.keyID(of: sealed) == "k1")
    }

    @Test func valueIsBoundToTenantAndField() throws {
        let cipher = try cipher(key1)
        let sealed = try cipher.seal("xoxb-secret", context: context)
        let elsewhere = [
            CipherContext(tenantID: "T999", field: "bot_token"),
            CipherContext(tenantID: "T0123ABC", field: "refresh_token"),
            CipherContext(tenantID: "T0123ABCb", field: "ot_token"),  // same concatenation, other split
            CipherContext(tenantID: "", field: "T0123ABCbot_token"),
        ]
        for other in elsewhere {
            #expect(throws: CipherError.authenticationFailed, "\(other)") { try cipher.open(sealed, context: other) }
        }
    }

    @Test func rotationKeepsOldValuesReadable() throws {
        let old = key1
        let new = EncryptionKey.generate(id: "k2")
        let sealedWithOld = try cipher(old).seal("xoxb-old", context: context)

        let rotated = try cipher(new, old)
        #expect(rotated.activeKeyID == "k2")
        #expect(try rotated.open(sealedWithOld, context: context) == "xoxb-old")
        let resealed = try rotated.seal("xoxb-old", context: context)
        #expect(try rotated.keyID(of: resealed) == "k2")
        #expect(try rotated.keyID(of: sealedWithOld) == "k1")
        // Once the old key is dropped its values are unreadable, and say so.
        #expect(throws: CipherError.unknownKeyID) { try cipher(new).open(sealedWithOld, context: context) }
    }

    /// Built apart from the attribute: one big literal there is too slow for the type checker.
    static let malformedSealedValues: [String] = {
        func sealed(_ bytes: [UInt8]) -> String { "v1." + Data(bytes).base64EncodedString() }
        let ones = Data(repeating: 1, count: 40).base64EncodedString()
        var values: [String] = ["", "v1.", "v1.!!!", "v2.AAAA", "V1.AAAA", "v1", "xoxb-plaintext-token", "v1.AAAA", "v1.AA=="]
        values.append("v1. " + ones)
        values.append("v1." + ones + "\n")
        values.append(sealed([0] + [UInt8](repeating: 65, count: 40)))  // zero id length
        values.append(sealed([33] + [UInt8](repeating: 65, count: 80)))  // id longer than 32
        values.append(sealed([255] + [UInt8](repeating: 65, count: 20)))  // id past the end
        values.append(sealed([2, 0x6b, 0xff] + [UInt8](repeating: 0, count: 28)))  // not UTF-8
        values.append(sealed([2, 0x6b, 0x2e] + [UInt8](repeating: 0, count: 28)))  // "k." invalid id
        values.append(sealed([2, 0x6b, 0x31] + [UInt8](repeating: 0, count: 27)))  // one byte short
        values.append("v1.AQIDBA")  // unpadded, non-canonical
        return values
    }()

    @Test(arguments: malformedSealedValues)
    func garbageIsMalformed(_ input: String) throws {
        let cipher = try cipher(key1)
        #expect(throws: CipherError.malformedCiphertext) { try cipher.open(input, context: context) }
        #expect(throws: CipherError.malformedCiphertext) { try cipher.keyID(of: input) }
    }

    @Test func randomInputNeverCrashes() throws {
        let cipher = try cipher(key1)
        for length in 0..<200 {
            let random = SecureRandom.bytes(length)
            for candidate in ["v1." + Data(random).base64EncodedString(), String(decoding: random, as: UTF8.self)] {
                do throws(CipherError) {
                    _ = try cipher.open(candidate, context: context)
                    Issue.record("random input of \(length) bytes opened")
                } catch {
                    #expect(error == .malformedCiphertext || error == .unknownKeyID || error == .authenticationFailed)
                }
            }
        }
    }

    @Test func keyRingIsChecked() throws {
        #expect(throws: CipherError.invalidKey) { try TokenCipher(keys: []) }
        #expect(throws: CipherError.invalidKey) { try TokenCipher(keys: [key1, EncryptionKey.generate(id: "k1")]) }
    }

    @Test func errorDescriptionsAreShortAndFixed() {
        let all: [CipherError] = [
            .malformedCiphertext, .unknownKeyID, .authenticationFailed, .invalidKey, .invalidNonce, .invalidTag,
            .openSSLFailure,
        ]
        #expect(Set(all.map(\.description)).count == all.count)
        #expect(all.allSatisfy { !$0.description.isEmpty && $0.description.count < 60 })
    }
}
