import EnableBotCore
import Foundation
import Testing

@Suite struct EncryptionKeyTests {
    static let bytesA = [UInt8](0..<32)
    static let bytesB = [UInt8](repeating: 0xAB, count: 32)
    static let base64A = Data(bytesA).base64EncodedString()
    static let base64B = Data(bytesB).base64EncodedString()

    /// Runs `parseList` expecting a failure, and checks the message never carries the key material.
    func failure(_ value: String, secrets: [String] = [base64A, base64B]) -> KeyListError? {
        do throws(KeyListError) {
            _ = try EncryptionKey.parseList(value)
            Issue.record("accepted: \(value.count) characters")
            return nil
        } catch {
            for secret in secrets {
                #expect(!error.description.contains(secret))
                #expect(!error.description.contains(secret.prefix(8)))
            }
            #expect(error.description.hasPrefix("ENCRYPTION_KEYS"))
            return error
        }
    }

    @Test func parsesGoodLists() throws {
        let one = try EncryptionKey.parseList("k1:\(Self.base64A)")
        #expect(one.map(\.id) == ["k1"])
        #expect(one[0].bytes == Self.bytesA)

        let two = try EncryptionKey.parseList("  2025-06_new:\(Self.base64B) ,\n old : \(Self.base64A)  ")
        #expect(two.map(\.id) == ["2025-06_new", "old"])
        #expect(two.map(\.bytes) == [Self.bytesB, Self.bytesA])

        // URL-safe alphabet and missing padding, as other tools print them.
        let bytesC = Array([[UInt8]](repeating: [0xFB, 0xEF, 0xBE, 0xFF, 0xFF, 0xFF], count: 5).joined()) + [0xFB, 0xEF]
        let standard = Data(bytesC).base64EncodedString()
        #expect(standard.contains("+") && standard.contains("/") && standard.hasSuffix("="))
        let urlSafe = standard.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        #expect(try EncryptionKey.parseList("k:\(urlSafe)")[0].bytes == bytesC)
        #expect(try EncryptionKey.parseList("k:\(urlSafe.dropLast())")[0].bytes == bytesC)
    }

    @Test func encodedFormRoundTrips() throws {
        let key = EncryptionKey.generate(id: "gen-1")
        #expect(key.bytes.count == 32)
        #expect(key.encoded.hasPrefix("gen-1:"))
        let parsed = try EncryptionKey.parseList(key.encoded)
        #expect(parsed.count == 1 && parsed[0].id == "gen-1" && parsed[0].bytes == key.bytes)
        #expect(EncryptionKey.generate(id: "gen-1").bytes != key.bytes)
    }

    @Test func descriptionShowsOnlyTheID() throws {
        let key = try #require(try EncryptionKey.parseList("k1:\(Self.base64B)").first)
        #expect(key.description == "EncryptionKey(id: k1)")
        #expect(!"\(key)".contains(Self.base64B))
        #expect(!String(reflecting: [key]).contains(Self.base64B.prefix(8)))
    }

    @Test func refusesDuplicateIDs() {
        let error = failure("k1:\(Self.base64A),k1:\(Self.base64B)")
        #expect(error?.reason == .duplicateKeyID)
        #expect(error?.position == 2 && error?.keyID == "k1")
    }

    @Test func refusesWrongLength() {
        let short = Data([UInt8](repeating: 7, count: 16)).base64EncodedString()
        let long = Data([UInt8](repeating: 7, count: 33)).base64EncodedString()
        for encoded in [short, long] {
            let error = failure("k1:\(Self.base64A),k2:\(encoded)", secrets: [Self.base64A, encoded])
            #expect(error?.reason == .wrongKeyLength)
            #expect(error?.position == 2)
            #expect(error?.description.contains("expected exactly 32") == true)
        }
    }

    @Test func refusesBadBase64() {
        let bad = "!!" + Self.base64A.dropFirst(2)
        let error = failure("k1:\(bad)", secrets: [String(bad)])
        #expect(error?.reason == .invalidBase64)
        #expect(failure("k1:")?.reason == .invalidBase64)
        #expect(failure("k1:\(Self.base64A.dropLast(1))x")?.reason != nil)
    }

    @Test func refusesBadIDs() throws {
        #expect(failure(":\(Self.base64A)")?.reason == .invalidKeyID)
        #expect(failure("k 1:\(Self.base64A)")?.reason == .invalidKeyID)
        #expect(failure("ké:\(Self.base64A)")?.reason == .invalidKeyID)
        #expect(failure("\(String(repeating: "a", count: 33)):\(Self.base64A)")?.reason == .invalidKeyID)
        #expect(try EncryptionKey.parseList("\(String(repeating: "a", count: 32)):\(Self.base64A)").count == 1)
        // A key pasted without an id is missing its separator; the message must not echo it.
        #expect(failure(Self.base64A)?.reason == .missingSeparator)
    }

    @Test func refusesEmptyValuesAndItems() {
        #expect(failure("")?.reason == .emptyList)
        #expect(failure("   ")?.reason == .emptyList)
        #expect(failure("k1:\(Self.base64A),")?.reason == .emptyItem)
        #expect(failure("k1:\(Self.base64A), ,k2:\(Self.base64B)")?.position == 2)
    }

    @Test func initChecksIDAndLength() throws {
        #expect(try EncryptionKey(id: "ok", bytes: Self.bytesA).id == "ok")
        #expect(throws: KeyListError.self) { try EncryptionKey(id: "", bytes: Self.bytesA) }
        #expect(throws: KeyListError.self) { try EncryptionKey(id: "ok", bytes: [1, 2, 3]) }
    }
}
