import EnableBotCore
import Foundation
import Testing
import TestSupport

/// Both services started at the same moment on one fresh SQLite file, as a compose file or process manager may:
/// the second must wait for the first's pragmas and migrations, never fail with "database is locked".
@Suite("Concurrent starts on one SQLite file")
struct ConcurrentStartTests {
    /// One started service process, its output going to a file so it never blocks on a full pipe. Spawned with
    /// `posix_spawn` rather than `Process`, whose launch takes long enough to keep the two processes apart.
    struct Started {
        let pid: pid_t
        let port: Int
        let outputPath: String

        var printed: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

        /// Whether the process still runs (reaping it once it has exited).
        var isRunning: Bool {
            var status: Int32 = 0
            return waitpid(pid, &status, WNOHANG) == 0
        }
    }

    /// Secrets set as a deployment sets them: generated development secrets would make the second process wait
    /// for the first one's files and so start 50 ms later, missing the race this test is about.
    static func environment(directory: String) -> [String: String] {
        [
            "PATH": "/usr/bin:/bin", "ENABLEBOT_DATA_DIR": directory, "DATABASE_URL": "sqlite:\(directory)/enablebot.sqlite",
            "HOST": "127.0.0.1", "LOG_LEVEL": "warning", "ENCRYPTION_KEYS": EncryptionKey.generate(id: "k1").encoded,
            "SLACK_SIGNING_SECRET": "test-signing-secret", "ADMIN_PASSWORD": "test-admin-password",
        ]
    }

    struct SpawnFailed: Error { let code: Int32 }

    static func start(_ name: String, port: Int, directory: String, environment: [String: String]) throws -> Started {
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let path = binaries.appendingPathComponent(name).path
        let outputPath = directory + "/\(name).log"
        let variables = environment.merging(["API_PORT": "\(port)", "WEB_PORT": "\(port)"]) { _, new in new }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard code == 0 else { throw SpawnFailed(code: code) }
        return Started(pid: pid, port: port, outputPath: outputPath)
    }

    /// Waits until the service answers `GET /health` with 200 (true) or exits first / runs out of time (false).
    static func becomesHealthy(_ started: Started, within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if healthStatus(port: started.port) == 200 { return true }
            if !started.isRunning { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    static func stop(_ started: Started) async {
        guard started.isRunning else { return }
        kill(started.pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(20)
        while started.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if started.isRunning {
            kill(started.pid, SIGKILL)
            _ = started.isRunning
        }
    }

    /// Starts both services on a fresh file at once; nil when both came up, else what went wrong.
    static func startPair() async throws -> String? {
        let directory = TestPaths.temporaryDirectory()
        let environment = environment(directory: directory)
        let (apiPort, webPort) = (try FreePort.next(), try FreePort.next())
        let api = try start("enablebot-api", port: apiPort, directory: directory, environment: environment)
        let web = try start("enablebot-web", port: webPort, directory: directory, environment: environment)
        async let apiUp = becomesHealthy(api, within: .seconds(90))
        async let webUp = becomesHealthy(web, within: .seconds(90))
        let (apiHealthy, webHealthy) = await (apiUp, webUp)
        await stop(api)
        await stop(web)
        if apiHealthy, webHealthy {
            try? FileManager.default.removeItem(atPath: directory)
            return nil
        }
        return "api healthy: \(apiHealthy), web healthy: \(webHealthy)\napi: \(api.printed)\nweb: \(web.printed)"
    }

    @Test("20 simultaneous starts of enablebot-api and enablebot-web on fresh SQLite files all come up")
    func simultaneousStarts() async throws {
        var failures: [String] = []
        // One pair at a time: the race is between the two processes of a pair; pairs running beside each other
        // only compete for the CPU, which spreads each pair's starts apart and hides it.
        for _ in 0..<20 {
            var failure = try await Self.startPair()
            // A free port can be taken by another test's server between choosing it and binding it: that pair says
            // nothing about the database, so it runs again on other ports.
            for _ in 0..<3 where failure?.contains("Address already in use") == true {
                failure = try await Self.startPair()
            }
            if let failure { failures.append(failure) }
        }
        #expect(failures.isEmpty, "\(failures.count) of 20 pairs failed; first: \(failures.first ?? "")")
    }

    /// The status code of `GET /health` on a loopback port, or nil when nothing answers.
    static func healthStatus(port: Int) -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = recv(fd, &buffer, buffer.count, 0)
        // "HTTP/1.1 200 OK"
        guard count >= 12 else { return nil }
        return Int(String(decoding: buffer[9..<12], as: UTF8.self))
    }
}
