import Foundation
import Testing

@testable import EnableBotCore

/// Runs Project Wycheproof's AES-GCM vectors through the very `AESGCM` wrapper `TokenCipher` uses.
@Suite struct AESGCMWycheproofTests {
    // Schema aead_test_schema_v1, reduced to the fields used here.
    struct VectorFile: Decodable {
        let algorithm: String
        let numberOfTests: Int
        let testGroups: [Group]
    }

    struct Group: Decodable {
        let ivSize: Int
        let keySize: Int
        let tagSize: Int
        let tests: [Case]
    }

    struct Case: Decodable {
        let tcId: Int
        let key: String
        let iv: String
        let aad: String
        let msg: String
        let ct: String
        let tag: String
        let result: String
        let flags: [String]
    }

    /// A case with its hex fields decoded.
    struct Vector {
        let id: Int
        let key, iv, aad, msg, ct, tag: [UInt8]
        let valid: Bool

        init(_ c: Case) throws {
            func bytes(_ hex: String) throws -> [UInt8] { try #require(decodeHex(hex), "tcId \(c.tcId): bad hex") }
            id = c.tcId
            key = try bytes(c.key)
            iv = try bytes(c.iv)
            aad = try bytes(c.aad)
            msg = try bytes(c.msg)
            ct = try bytes(c.ct)
            tag = try bytes(c.tag)
            // "acceptable" does not occur in this file; treat it as must-not-crash only.
            valid = c.result == "valid"
        }
    }

    static func loadFile() throws -> VectorFile {
        // Resources are `.copy("Resources")`, so the folder itself is kept inside the bundle.
        let url = try #require(
            Bundle.module.url(forResource: "wycheproof_aes_gcm_test", withExtension: "json", subdirectory: "Resources")
        )
        let file = try JSONDecoder().decode(VectorFile.self, from: Data(contentsOf: url))
        #expect(file.algorithm == "AES-GCM")
        #expect(file.testGroups.reduce(0) { $0 + $1.tests.count } == file.numberOfTests)
        return file
    }

    @Test func everyStandardCasePasses() throws {
        let file = try Self.loadFile()
        let groups = file.testGroups.filter { $0.ivSize == 96 && $0.tagSize == 128 }
        let expectedCount = groups.reduce(0) { $0 + $1.tests.count }

        var ran = 0, validCount = 0, invalidCount = 0
        for group in groups {
            for testCase in group.tests {
                let v = try Vector(testCase)
                #expect(v.key.count * 8 == group.keySize && v.iv.count == 12 && v.tag.count == 16, "tcId \(v.id)")
                if v.valid {
                    let sealed = try AESGCM.seal(key: v.key, nonce: v.iv, plaintext: v.msg, aad: v.aad)
                    #expect(sealed.ciphertext == v.ct, "tcId \(v.id): ciphertext")
                    #expect(sealed.tag == v.tag, "tcId \(v.id): tag")
                    let opened = try AESGCM.open(key: v.key, nonce: v.iv, ciphertext: v.ct, tag: v.tag, aad: v.aad)
                    #expect(opened == v.msg, "tcId \(v.id): plaintext")
                    validCount += 1
                } else {
                    #expect(throws: CipherError.self, "tcId \(v.id) must be rejected") {
                        try AESGCM.open(key: v.key, nonce: v.iv, ciphertext: v.ct, tag: v.tag, aad: v.aad)
                    }
                    invalidCount += 1
                }
                ran += 1
            }
        }
        print("Wycheproof AES-GCM (96-bit IV, 128-bit tag): \(ran) cases ran,",
              "\(validCount) valid, \(invalidCount) invalid")
        #expect(ran > 0)
        #expect(ran == expectedCount)
        #expect(validCount > 0 && invalidCount > 0)
    }

    /// The wrapper takes other nonce lengths (only for these vectors): up to OpenSSL's 128-byte limit they
    /// must give exactly the expected output; an empty nonce, or one OpenSSL can't take, must be refused.
    @Test func otherNonceLengths() throws {
        let file = try Self.loadFile()
        var ran = 0
        for group in file.testGroups where group.ivSize != 96 && group.tagSize == 128 {
            for testCase in group.tests {
                let v = try Vector(testCase)
                if v.iv.isEmpty {
                    #expect(!v.valid, "tcId \(v.id): a zero-length IV is never valid")
                    #expect(throws: CipherError.invalidNonce) {
                        try AESGCM.open(key: v.key, nonce: v.iv, ciphertext: v.ct, tag: v.tag, aad: v.aad)
                    }
                    #expect(throws: CipherError.invalidNonce) {
                        try AESGCM.seal(key: v.key, nonce: v.iv, plaintext: v.msg, aad: v.aad)
                    }
                } else if v.iv.count > 128 {
                    // OpenSSL 3 limits GCM IVs to 128 bytes; refusing is fine, a wrong answer is not.
                    #expect(throws: CipherError.invalidNonce) {
                        try AESGCM.seal(key: v.key, nonce: v.iv, plaintext: v.msg, aad: v.aad)
                    }
                } else if v.valid {
                    let sealed = try AESGCM.seal(key: v.key, nonce: v.iv, plaintext: v.msg, aad: v.aad)
                    #expect(sealed.ciphertext == v.ct && sealed.tag == v.tag, "tcId \(v.id)")
                    let opened = try AESGCM.open(key: v.key, nonce: v.iv, ciphertext: v.ct, tag: v.tag, aad: v.aad)
                    #expect(opened == v.msg, "tcId \(v.id)")
                } else {
                    #expect(throws: CipherError.self, "tcId \(v.id)") {
                        try AESGCM.open(key: v.key, nonce: v.iv, ciphertext: v.ct, tag: v.tag, aad: v.aad)
                    }
                }
                ran += 1
            }
        }
        print("Wycheproof AES-GCM (other IV sizes): \(ran) cases ran")
        #expect(ran > 0)
    }

    /// The file has only 128-bit tags, so shorter and longer tags are made from its valid cases:
    /// the wrapper must refuse them before OpenSSL (which would check a truncated tag) sees them.
    @Test func tagsOtherThan16BytesAreRejected() throws {
        let file = try Self.loadFile()
        var checked = 0
        for group in file.testGroups where group.ivSize == 96 {
            for testCase in group.tests where testCase.result == "valid" {
                let v = try Vector(testCase)
                for length in [0, 4, 8, 12, 15] {
                    #expect(throws: CipherError.invalidTag, "tcId \(v.id), \(length)-byte tag") {
                        try AESGCM.open(
                            key: v.key, nonce: v.iv, ciphertext: v.ct, tag: Array(v.tag.prefix(length)), aad: v.aad
                        )
                    }
                }
                #expect(throws: CipherError.invalidTag, "tcId \(v.id), 17-byte tag") {
                    try AESGCM.open(key: v.key, nonce: v.iv, ciphertext: v.ct, tag: v.tag + [0], aad: v.aad)
                }
                checked += 1
            }
        }
        #expect(checked > 0)
    }

    @Test func keyLengthsOtherThanAESAreRejected() {
        for length in [0, 1, 15, 17, 31, 33, 64] {
            #expect(throws: CipherError.invalidKey) {
                try AESGCM.seal(key: [UInt8](repeating: 1, count: length), nonce: [UInt8](repeating: 0, count: 12),
                                plaintext: [1, 2, 3], aad: [])
            }
        }
    }

    @Test func emptyPlaintextAndAADRoundTrip() throws {
        let key = SecureRandom.bytes(32), nonce = SecureRandom.bytes(12)
        let sealed = try AESGCM.seal(key: key, nonce: nonce, plaintext: [], aad: [])
        #expect(sealed.ciphertext.isEmpty && sealed.tag.count == 16)
        #expect(try AESGCM.open(key: key, nonce: nonce, ciphertext: [], tag: sealed.tag, aad: []) == [])
        #expect(throws: CipherError.authenticationFailed) {
            try AESGCM.open(key: key, nonce: nonce, ciphertext: [], tag: sealed.tag, aad: [0])
        }
    }
}
