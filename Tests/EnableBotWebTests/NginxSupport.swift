import EnableBotCore
import Foundation
import NIOConcurrencyHelpers
import Testing
import TestSupport

/// Debian's nginx in front of the services: config/nginx.conf rendered by scripts/render-nginx.sh into a temp
/// directory (pid file, temp paths, access log there, `daemon off`), run as a foreground child on a free loopback
/// port and stopped (SIGTERM, then SIGKILL) when the stack ends.
final class NginxFront: @unchecked Sendable {
    static let binary = "/usr/sbin/nginx"

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "nginx is not installed (\(NginxFront.binary) not found): run scripts/install-deps.sh --with-test-tools"
        }
    }

    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    /// One access-log line: which replica (`upstream`, "127.0.0.1:PORT") answered which request.
    struct Hop: Sendable {
        var message: String
        var upstream: String
        var status: String
    }

    let port: Int
    let directory: String
    private let process: Process

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var accessLogPath: String { directory + "/access.log" }

    private init(port: Int, directory: String, process: Process) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// Renders the template for these replicas and starts nginx; returns once its own `/health` answers.
    static func start(web: [Int], api: [Int], in stack: TestStack, http: any HTTPClient) async throws -> NginxFront {
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw Missing() }
        let directory = TestPaths.temporaryDirectory()
        let port = try FreePort.next()
        let config = directory + "/nginx.conf"
        let servers = { (ports: [Int]) in ports.map { "127.0.0.1:\($0)" }.joined(separator: ",") }
        try run("/bin/bash", [
            repositoryRoot + "/scripts/render-nginx.sh", "--listen", "127.0.0.1:\(port)", "--web", servers(web),
            "--api", servers(api), "--prefix", directory, "--access-log", directory + "/access.log", "--foreground", "-o", config,
        ])
        try run(binary, ["-p", directory + "/", "-e", "stderr", "-t", "-c", config])

        let logPath = directory + "/nginx.log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-p", directory + "/", "-e", "stderr", "-c", config]
        process.standardOutput = log
        process.standardError = log
        try process.runSerialized()
        let front = NginxFront(port: port, directory: directory, process: process)
        stack.onExit { await front.stop() }

        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw Failed(description: "nginx exited: " + front.output) }
            if let response = try? await http.send(HTTPClientRequest(url: front.baseURL + "/health", timeout: .seconds(2))),
               response.status == 200 {
                return front
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failed(description: "nginx did not answer /health in time: " + front.output)
    }

    var output: String { (try? String(contentsOfFile: directory + "/nginx.log", encoding: .utf8)) ?? "" }

    /// Fast shutdown (the master stops its workers), SIGKILL if that takes more than 10 s.
    func stop() async {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Every access-log line so far, oldest first.
    func hops() -> [Hop] {
        let text = (try? String(contentsOfFile: accessLogPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return Hop(
                message: object["message"] as? String ?? "", upstream: object["upstream"] as? String ?? "",
                status: object["status"] as? String ?? ""
            )
        }
    }

    /// The lines after the first `mark`, waiting (nginx writes a line once the response is sent) until there are `count`.
    func hops(after mark: Int, count: Int, timeout: Duration = .seconds(5)) async -> [Hop] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let all = hops()
            if all.count >= mark + count || ContinuousClock.now >= deadline { return Array(all.dropFirst(mark)) }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.runSerialized()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failed(description: "\(executable) \(arguments.joined(separator: " ")) failed: " + String(decoding: output, as: UTF8.self))
        }
    }
}

/// Signed Slack Events API requests, as Slack sends them.
struct SignedEvents: Sendable {
    let secret: String
    let url: String

    func mention(eventID: String, team: String, channel: String, ts: String, text: String, retry: Int? = nil) -> HTTPClientRequest {
        let object: [String: Any] = [
            "token": "legacy-verification-token", "team_id": team, "api_app_id": "A1", "type": "event_callback",
            "event_id": eventID, "event_time": 1_800_000_000,
            "event": [
                "type": "app_mention", "user": "U1", "channel": channel, "ts": ts, "event_ts": ts,
                "text": "<@UBOT\(team)> \(text)",
            ],
            "authorizations": [["team_id": team, "user_id": "UBOT\(team)", "is_bot": true, "is_enterprise_install": false]],
        ]
        let body = Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
        let timestamp = String(Int(Date().timeIntervalSince1970))
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/json"), ("X-Slack-Request-Timestamp", timestamp),
            ("X-Slack-Signature", SlackSignatureVerifier.sign(secret: secret, timestamp: timestamp, body: body)),
        ]
        if let retry {
            headers.append(("X-Slack-Retry-Num", "\(retry)"))
            headers.append(("X-Slack-Retry-Reason", "http_error"))
        }
        return HTTPClientRequest(method: "POST", url: url, headers: headers, body: body, timeout: .seconds(20))
    }
}

/// The services' shared configuration and their processes: each replica gets its own data directory and log.
struct ReplicaSet: Sendable {
    let directory: String
    let environment: [String: String]

    init(environment: [String: String]) {
        self.directory = TestPaths.temporaryDirectory()
        self.environment = environment
    }

    /// Starts `name` (enablebot-api or enablebot-web) on `port`; returns the process once it is healthy.
    func start(_ name: String, label: String, port: Int, in stack: TestStack, http: any HTTPClient) async throws -> ServiceProcess {
        let replicaDirectory = directory + "/" + label
        try FileManager.default.createDirectory(atPath: replicaDirectory, withIntermediateDirectories: true)
        var environment = environment
        environment["ENABLEBOT_DATA_DIR"] = replicaDirectory
        environment[name == "enablebot-web" ? "WEB_PORT" : "API_PORT"] = "\(port)"
        let process = try ServiceProcess.start(name, environment: environment, directory: replicaDirectory)
        stack.onExit { process.kill() }
        _ = try await process.waitForHealth(port: port, http: http, within: .seconds(60))
        return process
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
@discardableResult
func eventually(within timeout: Duration, every interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}

/// A workspace as the web service would have stored it after an install, on the test's database.
func seedInstallation(_ stores: Stores, tenant: String, settings: TenantSettings = TenantSettings()) async throws {
    try await stores.installations.save(
        Installation(
            tenantID: tenant, teamID: tenant, enterpriseID: nil, teamName: "Team \(tenant)", botUserID: "UBOT\(tenant)",
            settings: settings, installedAt: Date(), updatedAt: Date()
        ),
        tokens: InstallationTokens(botToken: "xoxb-nginx-\(tenant)")
    )
    if settings != TenantSettings() { try await stores.installations.updateSettings(tenantID: tenant, settings: settings) }
}

/// A tenant id of this run's own (the shared Redis keeps rate-limit windows per tenant id).
func uniqueTenant(_ prefix: String) -> String {
    prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8).uppercased()
}
