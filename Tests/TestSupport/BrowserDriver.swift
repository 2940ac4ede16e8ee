import Foundation

/// What the headless-Chromium checks share: where screenshots go, whether to run at all, and running one of the
/// Selenium scripts in `scripts/` without blocking a Swift concurrency thread (its JSON output goes through a file).
public enum BrowserDriver {
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `$ENABLEBOT_TEST_ARTIFACTS`, else `test-artifacts/` in the package.
    public static var artifacts: URL {
        let env = ProcessInfo.processInfo.environment["ENABLEBOT_TEST_ARTIFACTS"].flatMap { $0.isEmpty ? nil : $0 }
        return env.map { URL(fileURLWithPath: $0) } ?? packageRoot.appendingPathComponent("test-artifacts")
    }

    /// `ENABLEBOT_SKIP_BROWSER=1` skips the browser checks where no Chromium exists.
    public static let enabled = ProcessInfo.processInfo.environment["ENABLEBOT_SKIP_BROWSER"] != "1"

    /// `$CHROMEDRIVER`, else Debian's.
    public static var chromedriver: String {
        ProcessInfo.processInfo.environment["CHROMEDRIVER"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/bin/chromedriver"
    }

    /// Runs `scripts/<script>` with `arguments` and `--chromedriver`; returns its exit status and what it printed.
    public static func run(_ script: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let outputFile = URL(fileURLWithPath: TestPaths.temporaryDirectory()).appendingPathComponent("driver.json")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: outputFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", packageRoot.appendingPathComponent("scripts/\(script)").path]
            + arguments + ["--chromedriver", chromedriver]
        process.standardOutput = handle
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.runSerialized() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        try handle.close()
        let output = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        return (status, output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
