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
        let expectedService = executable == "enablebot-api" ? "api" : "web"
        var databaseURL = "sqlite:\(directory)/service.sqlite"
        var redisURL: String?
        if backend == .postgresAndRedis {
            databaseURL = try await PostgresTestServer.freshSchemaURL()
            redisURL = try TestRedis.url()
        }
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        // A free port can be taken by another test's server between choosing it and binding it: then this process
        // cannot listen, and /health answers for someone else. Check who answered, and try another port if need be.
        var started: (service: ServiceProcess, port: Int, health: String)?
        for _ in 0..<3 where started == nil {
            let port = try FreePort.next()
            var environment = [
                "ENABLEBOT_DATA_DIR": directory, "API_PORT": "\(port)", "WEB_PORT": "\(port)", "LOG_LEVEL": "info",
                "DATABASE_URL": databaseURL,
            ]
            environment["REDIS_URL"] = redisURL
            let candidate = try ServiceProcess.start(executable, environment: environment, directory: directory)
            if let health = try? await candidate.waitForHealth(port: port, http: http),
               health.contains("\"service\":\"\(expectedService)\""), candidate.process.isRunning {
                started = (candidate, port, health)
            } else {
                candidate.kill()
            }
        }
        let (service, port, health) = try #require(started)
        defer { service.kill() }
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
