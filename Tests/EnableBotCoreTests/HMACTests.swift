import EnableBotCore
import Testing

@Suite struct HMACTests {
    // RFC 4231, test cases 1 and 2.
    @Test func rfc4231Case1() {
        let mac = HMACSHA256.authenticate(key: [UInt8](repeating: 0x0b, count: 20), message: Array("Hi There".utf8))
        #expect(mac.hexString == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    @Test func rfc4231Case2() {
        let mac = HMACSHA256.authenticate(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(mac.hexString == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func emptyKeyAndMessage() {
        // Known value: HMAC-SHA256 with an empty key over an empty message.
        #expect(HMACSHA256.authenticate(key: [], message: []).hexString
            == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    @Test("a prepared key gives the same MAC over parts as over their concatenation, and again and again")
    func preparedKeyOverParts() {
        // RFC 4231 test case 2, and a long key (hashed first, RFC 4231 test case 6).
        let jefe = HMACSHA256Key(Array("Jefe".utf8))
        for _ in 0..<3 {
            #expect(jefe.authenticate(Array("what do ya ".utf8), [], Array("want for nothing?".utf8)).hexString
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        }
        let long = HMACSHA256Key([UInt8](repeating: 0xaa, count: 131))
        #expect(long.authenticate(Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)).hexString
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        #expect(HMACSHA256Key([]).authenticate().hexString == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    @Test("one prepared key shared by many threads at once gives every one of them the right MAC")
    func preparedKeyShared() async {
        let key = HMACSHA256Key(Array("shared-secret".utf8))
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<400 {
                group.addTask {
                    let message = Array("message \(index)".utf8)
                    return key.authenticate(message) == HMACSHA256.authenticate(key: Array("shared-secret".utf8), message: message)
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 400 && results.allSatisfy { $0 })
    }

    @Test func constantTimeEqualsComparesContentAndLength() {
        #expect(constantTimeEquals([], []))
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(!constantTimeEquals([], [0]))
    }

    @Test func hexRoundTrip() {
        let bytes = [UInt8](0...255)
        #expect(decodeHex(bytes.hexString) == bytes)
        #expect(decodeHex("DEADbeef") == [0xde, 0xad, 0xbe, 0xef])
        #expect(decodeHex("") == [])
    }

    @Test(arguments: ["0", "abc", "0g", "zz", " 00", "00 ", "0x00", "é0", "٠٠", "+1", "-1"])
    func hexRejectsAnythingElse(_ text: String) {
        #expect(decodeHex(text) == nil)
    }

    @Test func secureRandomBytesAndTokens() {
        #expect(SecureRandom.bytes(0).isEmpty)
        #expect(SecureRandom.bytes(32).count == 32)
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
        let token = SecureRandom.token()
        #expect(token.count == 43)
        #expect(token.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        #expect(SecureRandom.token(byteCount: 16).count == 22)
        #expect(SecureRandom.token() != SecureRandom.token())
    }
}
