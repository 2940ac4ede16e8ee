import EnableBotAPI
import EnableBotCore
import Foundation
import HummingbirdTesting
import NIOConcurrencyHelpers
import Testing
import TestSupport

/// What only a shared limiter has to show: instances agreeing through Redis, Redis failing, and `/health`.
@Suite("Redis limits and health")
struct RedisLimitsTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("two instances (two pools) hammered from many tasks admit exactly N in total")
    func instancesShareTheWindow() async throws {
        try await withStack { stack in
            let prefix = TestRedis.uniquePrefix()
            let clients = [try stack.redis(poolSize: 4), try stack.redis(poolSize: 4)]
            let limiters = clients.map { RedisRateLimiter(client: $0, keyPrefix: prefix) }
            let keys = [RateLimitKey("tenant:T1", RateLimitSpec(limit: 25, windowSeconds: 60)),
                        RateLimitKey("global", RateLimitSpec(limit: 40, windowSeconds: 60))]
            let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<300 {
                    // All inside one window; each "process" sees a slightly different moment.
                    let at = Self.t0.addingTimeInterval(Double(i % 50) / 10)
                    group.addTask { try await limiters[i % 2].admit(keys, at: at).isAdmitted }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(admitted == 25)
            let count = try await clients[0].command(["ZCARD", prefix + "log:global"])
            #expect(count == .integer(25))
        }
    }

    @Test("Redis down: admit and claimNotice throw a typed connection error")
    func redisDown() async throws {
        try await withStack { stack in
            let client = try stack.redis(url: "redis://127.0.0.1:\(try FreePort.next())/0", poolSize: 1)
            let limiter = RedisRateLimiter(client: client)
            let key = [RateLimitKey("tenant:T1", RateLimitSpec(limit: 5, windowSeconds: 60))]
            let error = await #expect(throws: RedisError.self) { try await limiter.admit(key, at: Self.t0) }
            #expect(error?.kind == .connection)
            await #expect(throws: RedisError.self) { try await limiter.claimNotice("T1:U1", window: 60, at: Self.t0) }
        }
    }

    @Test("the API's limiter falls back to this instance's own limits while Redis is down, and back to Redis after")
    func fallback() async throws {
        try await withStack { stack in
            let server = try stack.dedicatedRedis()
            let client = try stack.redis(url: server.url(), poolSize: 2)
            let limiter = FallbackRateLimiter(primary: RedisRateLimiter(client: client), logger: TestLog.logger)
            let key = [RateLimitKey("tenant:T1", RateLimitSpec(limit: 3, windowSeconds: 60))]
            #expect(try await limiter.admit(key, at: Self.t0).isAdmitted)
            #expect(try await client.command(["ZCARD", "enablebot:rl:log:tenant:T1"]) == .integer(1))

            server.stopServer()
            // The local log starts empty: three more, then refused, without an error reaching the caller.
            for i in 1...3 { #expect(try await limiter.admit(key, at: Self.t0.addingTimeInterval(Double(i))).isAdmitted) }
            #expect(try await limiter.admit(key, at: Self.t0.addingTimeInterval(4)).isAdmitted == false)
            #expect(try await limiter.claimNotice("T1:U1", window: 60, at: Self.t0))

            try server.startServer()
            // Redis came back empty (no persistence): it decides again.
            #expect(try await limiter.admit(key, at: Self.t0.addingTimeInterval(5)).isAdmitted)
            #expect(try await client.command(["ZCARD", "enablebot:rl:log:tenant:T1"]) == .integer(1))
        }
    }

    struct Health: Decodable {
        let status: String
        let checks: [String: String]
    }

    static func settings(redisURL: String) throws -> Settings {
        var settings = try Settings.load(service: .api, environment: [
            "ENABLEBOT_DATA_DIR": TestPaths.temporaryDirectory(),
            "DATABASE_URL": "sqlite:" + TestPaths.temporaryDirectory() + "/health.sqlite",
            "SLACK_SIGNING_SECRET": "test-signing-secret", "REDIS_URL": redisURL,
        ])
        settings.port = 0
        return settings
    }

    @Test("/health reports redis ok when REDIS_URL answers")
    func healthOK() async throws {
        try await withStack { stack in
            // The application opens the database and Redis itself and closes them through its services.
            let settings = try Self.settings(redisURL: TestRedis.url())
            try await buildAPIApplication(settings: settings, logger: TestLog.logger).test(.live) { client in
                try await client.execute(uri: "/health", method: .get) { response in
                    #expect(response.status == .ok)
                    let health = try JSONDecoder().decode(Health.self, from: Data(buffer: response.body))
                    #expect(health.checks == ["database": "ok", "redis": "ok"])
                }
            }
        }
    }

    @Test("an unreachable REDIS_URL does not stop the start; /health is 200 \"degraded\" naming redis until Redis answers")
    func healthUntilRedisIsUp() async throws {
        try await withStack { stack in
            let server = try stack.dedicatedRedis()
            server.stopServer()
            let settings = try Self.settings(redisURL: server.url())
            try await buildAPIApplication(settings: settings, logger: TestLog.logger).test(.live) { client in
                try await client.execute(uri: "/health", method: .get) { response in
                    #expect(response.status == .ok)
                    let health = try JSONDecoder().decode(Health.self, from: Data(buffer: response.body))
                    #expect(health.status == "degraded")
                    #expect(health.checks == ["database": "ok", "redis": "error"])
                }
                try server.startServer()
                // Back once Redis answers a PING within the check's timeout: on a loaded machine that may take a
                // few checks, since the client reconnects lazily.
                var redis = ""
                for _ in 0..<20 where redis != "ok" {
                    try await client.execute(uri: "/health", method: .get) { response in
                        #expect(response.status == .ok)
                        redis = try JSONDecoder().decode(Health.self, from: Data(buffer: response.body)).checks["redis"] ?? ""
                    }
                    if redis != "ok" { try await Task.sleep(for: .milliseconds(250)) }
                }
                #expect(redis == "ok")
            }
        }
    }
}
