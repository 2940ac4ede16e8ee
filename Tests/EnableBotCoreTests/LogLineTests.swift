@testable import EnableBotCore
import Foundation
import Logging
import Testing

/// The JSON log line is built by hand, byte by byte (it is written for every request): it must stay one valid JSON
/// object per line whatever the message and metadata hold.
@Suite struct LogLineTests {
    private func render(_ message: String, _ metadata: Logger.Metadata) throws -> (line: String, object: [String: Any]) {
        let bytes = JSONLogHandler.render(
            timestamp: Date(timeIntervalSince1970: 1_764_927_000.25), service: "api", level: .info, message: message,
            metadata: metadata
        )
        let line = String(decoding: bytes, as: UTF8.self)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        return (line, object)
    }

    @Test("hostile text stays inside its string: quotes, backslashes, control characters, U+2028/U+2029")
    func escaping() throws {
        let hostile = "a\"b\\c\nd\re\tf\u{0}g\u{1f}h\u{2028}i\u{2029}j é 🧵 … ⁂"
        let (line, object) = try render(hostile, ["user_id": .string(hostile), hostile: .string("key too")])
        #expect(line.hasSuffix("}\n"))
        #expect(line.dropLast().contains("\n") == false)
        #expect(!line.contains("\u{2028}") && !line.contains("\u{2029}"))
        #expect(object["message"] as? String == hostile)
        #expect(object["user_id"] as? String == hostile)
        #expect(object[hostile] as? String == "key too")
        #expect(object["timestamp"] as? String == "2025-12-05T09:30:00.250Z")
        #expect(object["service"] as? String == "api" && object["level"] as? String == "info")
    }

    @Test("status and duration_ms are numbers only when they are plain numbers; fields come in key order")
    func numbersAndOrder() throws {
        let (line, object) = try render("GET /x", [
            "status": .string("200"), "duration_ms": .string("3.25"), "tenant_id": .string("T1"), "event_id": .string("Ev1"),
        ])
        #expect(object["status"] as? Int == 200)
        #expect(object["duration_ms"] as? Double == 3.25)
        #expect(line.contains(#""duration_ms":3.25,"event_id":"Ev1","status":200,"tenant_id":"T1"}"#))
        for odd in ["nan", "1e5", "-1", "01", "1.", ".5", "", "1.2.3", "inf"] {
            let (_, object) = try render("x", ["duration_ms": .string(odd)])
            #expect(object["duration_ms"] as? String == odd, "\(odd) is written as a string")
        }
    }

    @Test("metadata cannot overwrite the line's own fields")
    func reservedKeys() throws {
        let (_, object) = try render("real", ["message": .string("forged"), "level": .string("critical")])
        #expect(object["message"] as? String == "real")
        #expect(object["level"] as? String == "info")
    }
}
