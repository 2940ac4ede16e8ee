import EnableBotCore
import Foundation

/// A service executable started by a test, its stdout and stderr going to one file.
public final class ServiceProcess: @unchecked Sendable {
    public let process: Process
    public let logPath: String

    public static func start(
        _ name: String, arguments: [String] = [], environment: [String: String], directory: String
    ) throws -> ServiceProcess {
        let buildDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let logPath = directory + "/\(name).log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let process = Process()
        process.executableURL = buildDirectory.appendingPathComponent(name)
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { _, new in new }
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = log
        process.standardError = log
        try process.runSerialized()
        return ServiceProcess(process: process, logPath: logPath)
    }

    private init(process: Process, logPath: String) {
        self.process = process
        self.logPath = logPath
    }

    public var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) { Foundation.kill(process.processIdentifier, signal) }

    public func kill() {
        if process.isRunning { signal(SIGKILL) }
    }

    /// Polls `/health` until it answers 200; returns its body.
    public func waitForHealth(port: Int, http: any HTTPClient, within timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw ServiceExited(output: output) }
            if let response = try? await http.send(HTTPClientRequest(method: "GET", url: "http://127.0.0.1:\(port)/health", timeout: .seconds(2))),
               response.status == 200 {
                return String(decoding: response.body, as: UTF8.self)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServiceExited(output: "no healthy answer in time\n" + output)
    }

    public func waitForExit(within timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        guard !process.isRunning else { throw ServiceExited(output: "still running after \(timeout)\n" + output) }
        return process.terminationStatus
    }

    public struct ServiceExited: Error, CustomStringConvertible {
        public let output: String
        public var description: String { "the service is not running: \(output)" }
    }
}

extension ServiceProcess {
    /// Polls `url` until it answers 200 (for a server started in-process).
    public static func waitForHTTP(_ url: String, http: any HTTPClient, within timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let response = try? await http.send(HTTPClientRequest(method: "GET", url: url, timeout: .seconds(2))), response.status == 200 {
                return String(decoding: response.body, as: UTF8.self)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServiceExited(output: "no answer from \(url) in time")
    }
}
