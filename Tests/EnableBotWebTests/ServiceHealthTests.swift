import EnableBotAPI
import EnableBotCore
import EnableBotWeb
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// Both services' `/health` over a real socket, on SQLite and on a PostgreSQL that is stopped mid-test.
@Suite("Service health")
struct ServiceHealthTests {
    static func settings(databaseURL: String) throws -> Settings {
        var settings = try Settings.load(service: .web, environment: [
            "ENABLEBOT_DATA_DIR": TestPaths.temporaryDirectory(), "DATABASE_URL": databaseURL,
            "SLACK_SIGNING_SECRET": "test-signing-secret",
        ])
        settings.port = 0
        return settings
    }

    struct Health: Decodable {
        let status: String
        let service: String
        let version: String
        let checks: [String: String]
    }

    @Test("web and api answer /health 200 with the database check on SQLite", arguments: ["api", "web"])
    func healthy(service: String) async throws {
        try await withStack { stack in
            let url = "sqlite:" + TestPaths.temporaryDirectory() + "/health.sqlite"
            let settings = try Self.settings(databaseURL: url)
            let check: @Sendable (any TestClientProtocol) async throws -> Void = { client in
                try await client.execute(uri: "/health", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                    let health = try JSONDecoder().decode(Health.self, from: Data(buffer: response.body))
                    #expect(health.status == "ok")
                    #expect(health.service == service)
                    #expect(health.checks == ["database": "ok", "redis": "disabled"])
                }
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains("http_requests_total"))
                }
            }
            if service == "api" {
                try await buildAPIApplication(settings: settings, logger: TestLog.logger).test(.live, check)
            } else {
                try await buildWebApplication(settings: settings, logger: TestLog.logger).test(.live, check)
            }
        }
    }

    @Test("a stopped PostgreSQL turns /health into 503 naming the database; it recovers when the server is back")
    func postgresDown() async throws {
        try await withStack { stack in
            let postgres = try stack.dedicatedPostgres()
            let settings = try Self.settings(databaseURL: postgres.url)
            try await buildWebApplication(settings: settings, logger: TestLog.logger).test(.live) { client in
                try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
                try postgres.stopServer()
                try await client.execute(uri: "/health", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    let health = try JSONDecoder().decode(Health.self, from: Data(buffer: response.body))
                    #expect(health.status != "ok")
                    #expect(health.checks["database"] == "error")
                }
                try postgres.startServer()
                try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            }
        }
    }
}
