import EnableBotCore
import Foundation
import Testing
import TestSupport

/// Each service as an operator runs it: started, healthy, then SIGTERM. The service group stops the server, the
/// workers, the HTTP client, Redis and the database in that order, and the process exits 0 within the drain
/// deadline, leaving nothing listening.
@Suite("Shutdown", .timeLimit(.minutes(2)))
struct ShutdownTests {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case sqlite
        case postgresAndRedis
        var testDescription: String { rawValue }
    }

    static let drainDeadline: Duration = .seconds(10)

    @Test("SIGTERM: a clean exit within the drain deadline, every line JSON, the port closed",
          arguments: ["enablebot-api", "enablebot-web"], Backend.allCases)
    func sigterm(executable: String, backend: Backend) async throws {
        let directory = TestPaths.temporaryDirectory()
        let port = try FreePort.next()
        var environment = [
            "ENABLEBOT_DATA_DIR": directory, "API_PORT": "\(port)", "WEB_PORT": "\(port)", "LOG_LEVEL": "info",
        ]
        switch backend {
        case .sqlite:
            environment["DATABASE_URL"] = "sqlite:\(directory)/service.sqlite"
        case .postgresAndRedis:
            environment["DATABASE_URL"] = try await PostgresTestServer.freshSchemaURL()
            environment["REDIS_URL"] = try TestRedis.url()
        }
        let service = try ServiceProcess.start(executable, environment: environment, directory: directory)
        defer { service.kill() }

        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let health = try await service.waitForHealth(port: port, http: http)
        #expect(health.contains("\"database\":\"ok\""))
        if backend == .postgresAndRedis { #expect(health.contains("\"redis\":\"ok\"")) }

        let start = ContinuousClock.now
        service.signal(SIGTERM)
        let status = try await service.waitForExit(within: Self.drainDeadline)
        #expect(status == 0, "exit status; output:\n\(service.output)")
        #expect(ContinuousClock.now - start < Self.drainDeadline)

        let lines = service.output.split(separator: "\n")
        #expect(lines.contains { $0.contains("\"message\":\"stopped\"") }, "\(service.output)")
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not JSON: \(line)")
        }
        // Nothing listens on the port any more.
        await #expect(throws: (any Error).self) {
            _ = try await http.send(HTTPClientRequest(method: "GET", url: "http://127.0.0.1:\(port)/health", timeout: .seconds(2)))
        }
    }
}

/// A service executable started by a test, its stdout and stderr going to one file.
final class ServiceProcess: @unchecked Sendable {
    let process: Process
    let logPath: String

    static func start(_ name: String, environment: [String: String], directory: String) throws -> ServiceProcess {
        let buildDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let logPath = directory + "/\(name).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let process = Process()
        process.executableURL = buildDirectory.appendingPathComponent(name)
        process.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { _, new in new }
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return ServiceProcess(process: process, logPath: logPath)
    }

    private init(process: Process, logPath: String) {
        self.process = process
        self.logPath = logPath
    }

    var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func signal(_ signal: Int32) { Foundation.kill(process.processIdentifier, signal) }

    func kill() {
        if process.isRunning { signal(SIGKILL) }
    }

    /// Polls `/health` until it answers 200; returns its body.
    func waitForHealth(port: Int, http: any HTTPClient, within timeout: Duration = .seconds(30)) async throws -> String {
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

    func waitForExit(within timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        guard !process.isRunning else { throw ServiceExited(output: "still running after \(timeout)\n" + output) }
        return process.terminationStatus
    }

    struct ServiceExited: Error, CustomStringConvertible {
        let output: String
        var description: String { "the service is not running: \(output)" }
    }
}
