import Foundation
import Testing
import TestSupport

/// The built executables, run as an operator would: exit codes and the lines they print.
@Suite("Executables")
struct ExecutableTests {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// `swift build --build-tests` puts the executables beside the test bundle.
    static func run(_ name: String, _ arguments: [String], environment: [String: String]) throws -> Outcome {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let process = Process()
        process.executableURL = directory.appendingPathComponent(name)
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { _, new in new }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.runSerialized()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                       stderr: String(decoding: stderr, as: UTF8.self))
    }

    static func env(_ extra: [String: String] = [:]) -> [String: String] {
        let directory = TestPaths.temporaryDirectory()
        return ["ENABLEBOT_DATA_DIR": directory, "DATABASE_URL": "sqlite:\(directory)/cli.sqlite", "LOG_LEVEL": "error"]
            .merging(extra) { _, new in new }
    }

    @Test("enablebot keys generate prints a usable KEYID:BASE64 key")
    func keysGenerate() throws {
        let outcome = try Self.run("enablebot", ["keys", "generate", "--id", "k1"], environment: Self.env())
        #expect(outcome.status == 0)
        let parts = outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":")
        #expect(parts.first == "k1")
        #expect(Data(base64Encoded: String(parts.last ?? ""))?.count == 32)
        let bad = try Self.run("enablebot", ["keys", "generate", "--id", "bad id!"], environment: Self.env())
        #expect(bad.status != 0)
    }

    @Test("enablebot migrate applies once, then reports the schema current; tenants list works")
    func migrate() throws {
        let env = Self.env()
        let first = try Self.run("enablebot", ["migrate"], environment: env)
        #expect(first.status == 0)
        #expect(first.stdout.contains("applied migrations 1"))
        let second = try Self.run("enablebot", ["migrate"], environment: env)
        #expect(second.stdout.contains("schema is current"))
        let list = try Self.run("enablebot", ["tenants", "list"], environment: env)
        #expect(list.status == 0)
        #expect(list.stdout.contains("no installations"))
        let retention = try Self.run("enablebot", ["retention", "run"], environment: env)
        #expect(retention.status == 0)
        #expect(retention.stdout.contains("chat memory: 0 turns archived"))
    }

    @Test("a malformed setting stops each service with one JSON line naming it", arguments: ["enablebot-api", "enablebot-web"])
    func badSetting(executable: String) throws {
        let outcome = try Self.run(executable, [], environment: Self.env(["DATABASE_POOL_SIZE": "abc"]))
        #expect(outcome.status == 1)
        let lines = (outcome.stdout + outcome.stderr).split(separator: "\n")
        #expect(lines.count == 1)
        let object = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect((object?["message"] as? String)?.contains("DATABASE_POOL_SIZE") == true)
        #expect(object?["level"] as? String == "critical")
        #expect(object?["service"] as? String == (executable == "enablebot-api" ? "api" : "web"))
        #expect(object?["timestamp"] != nil)
    }

    @Test("production without ENCRYPTION_KEYS refuses to start")
    func productionWithoutKeys() throws {
        let outcome = try Self.run("enablebot-web", [], environment: Self.env(["ENABLEBOT_ENV": "production"]))
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("ENCRYPTION_KEYS"))
    }
}
