import EnableBotCore
import Foundation
import Testing
import TestSupport

@Suite("Redis URL")
struct RedisConfigurationTests {
    @Test("host, port, database, password and ACL user are read from REDIS_URL")
    func parses() throws {
        let plain = try RedisConfiguration(url: "redis://cache.internal")
        #expect(plain.endpoint == .tcp(host: "cache.internal", port: 6379))
        #expect(plain.password == nil && plain.username == nil && plain.database == 0)

        let legacy = try RedisConfiguration(url: "redis://:s3cret@10.0.0.5:6380/2")
        #expect(legacy.endpoint == .tcp(host: "10.0.0.5", port: 6380))
        #expect(legacy.password == "s3cret" && legacy.username == nil && legacy.database == 2)

        let acl = try RedisConfiguration(url: "redis://bot:p%40ss%2Fw:rd@localhost:6379/0")
        #expect(acl.username == "bot" && acl.password == "p@ss/w:rd")

        #expect(try RedisConfiguration(url: "redis://localhost/?db=5").database == 5)
        #expect(try RedisConfiguration(url: "redis://[::1]:7000/1").endpoint == .tcp(host: "::1", port: 7000))
        let socket = try RedisConfiguration(url: "unix:///run/redis/redis.sock?db=3&password=pw")
        #expect(socket.endpoint == .unix(path: "/run/redis/redis.sock"))
        #expect(socket.database == 3 && socket.password == "pw")
    }

    @Test("a malformed REDIS_URL names the setting and what is expected, never the password",
          arguments: ["redis://:hunter2@host:6379/zero", "http://:hunter2@host", "rediss://:hunter2@host:6379",
                      "redis://:hunter2@:6379/0", "redis://:hunter2@host:6379/-1", "redis://:hunter2@host/?db=x"])
    func rejects(url: String) {
        do {
            _ = try RedisConfiguration(url: url)
            Issue.record("accepted \(url)")
        } catch let error as ConfigurationError {
            #expect(error.setting == "REDIS_URL")
            #expect(!error.description.contains("hunter2"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite("Redis client")
struct RedisClientTests {
    @Test("replies convert to RedisReply: status, string, integer, array, null, error")
    func replies() async throws {
        try await withStack { stack in
            let redis = try stack.redis()
            let key = TestRedis.uniquePrefix() + "k"
            #expect(try await redis.command(["SET", key, "v"]) == .status("OK"))
            #expect(try await redis.command(["GET", key]) == .string("v"))
            #expect(try await redis.command(["GET", key + ":missing"]) == .null)
            #expect(try await redis.command(["RPUSH", key + ":list", "a", "", "c"]) == .integer(3))
            #expect(try await redis.command(["LRANGE", key + ":list", "0", "-1"]) == .array([.string("a"), .string(""), .string("c")]))
            let wrongType = try await redis.command(["LPUSH", key, "x"])
            guard case .error(let message) = wrongType else { Issue.record("not an error: \(wrongType)"); return }
            #expect(message.hasPrefix("WRONGTYPE"))
            #expect(throws: RedisError.self) { try wrongType.checked() }
            try await redis.ping()
            _ = try await redis.command(["DEL", key, key + ":list"])
        }
    }

    @Test("values are binary-safe: NUL, CRLF, protocol characters, UTF-8, 1 MiB")
    func binarySafe() async throws {
        try await withStack { stack in
            let redis = try stack.redis()
            let prefix = TestRedis.uniquePrefix()
            let values = ["a\0b", "line\r\nnext", "*3\r\n$3\r\nSET\r\n", "ü ∑ 😀", "", String(repeating: "x", count: 1 << 20)]
            for (i, value) in values.enumerated() {
                let key = prefix + "key\0\r\n\(i)"
                #expect(try await redis.command(["SET", key, value]) == .status("OK"))
                #expect(try await redis.command(["GET", key]) == .string(value))
                #expect(try await redis.command(["STRLEN", key]) == .integer(value.utf8.count))
                _ = try await redis.command(["DEL", key])
            }
        }
    }

    @Test("scripts run by hash, and again from source after SCRIPT FLUSH (NOSCRIPT)")
    func noScript() async throws {
        try await withStack { stack in
            let redis = try stack.redis(poolSize: 1)
            let key = TestRedis.uniquePrefix() + "n"
            let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
            #expect(try await redis.run(script, keys: [key], arguments: ["2"]) == .integer(2))
            #expect(try await redis.run(script, keys: [key], arguments: ["3"]) == .integer(5))
            #expect(try await redis.command(["SCRIPT", "FLUSH"]) == .status("OK"))
            #expect(try await redis.run(script, keys: [key], arguments: ["4"]) == .integer(9))
            #expect(try await redis.run(script, keys: [key], arguments: ["1"]) == .integer(10))
            // A script error is Redis's text, thrown as a server error.
            await #expect(throws: RedisError.self) {
                try await redis.run(RedisScript("return redis.call('NOPE')"), keys: [], arguments: ["secret-arg"])
            }
            _ = try await redis.command(["DEL", key])
        }
    }

    @Test("AUTH with the URL's password and SELECT its database; a wrong password is a clear error without it")
    func authentication() async throws {
        try await withStack { stack in
            let server = try stack.dedicatedRedis(password: "right-horse")
            let db3 = try stack.redis(url: server.url(database: 3), poolSize: 1)
            let db0 = try stack.redis(url: server.url(database: 0), poolSize: 1)
            #expect(try await db3.command(["SET", "where", "three"]) == .status("OK"))
            #expect(try await db3.command(["GET", "where"]) == .string("three"))
            #expect(try await db0.command(["GET", "where"]) == .null)

            let wrong = try stack.redis(url: server.url(password: "wrong-battery"), poolSize: 1)
            let error = await #expect(throws: RedisError.self) { try await wrong.ping() }
            #expect(error?.kind == .authentication)
            #expect(error?.description.contains("WRONGPASS") == true)
            #expect(error?.description.contains("wrong-battery") == false)

            let none = try stack.redis(url: server.url(password: ""), poolSize: 1)
            let refused = try await none.command(["GET", "where"])
            #expect(refused.string == nil)
            if case .error(let message) = refused { #expect(message.hasPrefix("NOAUTH")) } else { Issue.record("\(refused)") }
        }
    }

    @Test("Redis down: a typed connection error; the same client works once Redis is back")
    func outage() async throws {
        try await withStack { stack in
            let closed = try stack.redis(url: "redis://127.0.0.1:\(try FreePort.next())/0", poolSize: 2)
            let error = await #expect(throws: RedisError.self) { try await closed.command(["SET", "tenant:T9", "U9"]) }
            #expect(error?.kind == .connection)
            #expect(error?.description.contains("T9") == false)

            let server = try stack.dedicatedRedis()
            let redis = try stack.redis(url: server.url(), poolSize: 1)
            try await redis.ping()
            server.stopServer()
            await #expect(throws: RedisError.self) { try await redis.ping() }
            await #expect(throws: RedisError.self) { try await redis.ping() }
            try server.startServer()
            try await redis.ping()
        }
    }

    @Test("a connection the server closed while idle is reopened and the command sent once more")
    func reconnects() async throws {
        try await withStack { stack in
            let redis = try stack.redis(poolSize: 1)
            let admin = try stack.redis(poolSize: 1)
            let first = try #require(try await redis.command(["CLIENT", "ID"]).integer)
            #expect(try await admin.command(["CLIENT", "KILL", "ID", String(first)]) == .integer(1))
            let second = try #require(try await redis.command(["CLIENT", "ID"]).integer)
            #expect(second != first)
        }
    }

    @Test("no reply within the command timeout: a timeout error, and the connection is usable after")
    func timeout() async throws {
        try await withStack { stack in
            var configuration = try RedisConfiguration(url: TestRedis.url())
            configuration.commandTimeout = .milliseconds(200)
            let redis = stack.own(RedisClient(configuration: configuration, poolSize: 1, logger: TestLog.logger)) { await $0.shutdown() }
            // BLPOP on an empty list blocks for a second server-side without slowing anyone else down.
            let error = await #expect(throws: RedisError.self) {
                try await redis.command(["BLPOP", TestRedis.uniquePrefix() + "empty", "1"])
            }
            #expect(error?.kind == .timeout)
            try await redis.ping()
        }
    }

    @Test("after shutdown every call throws a shutdown error")
    func shutdown() async throws {
        let redis = try TestRedis.client(poolSize: 1)
        try await redis.ping()
        await redis.shutdown()
        let error = await #expect(throws: RedisError.self) { try await redis.ping() }
        #expect(error?.kind == .shutdown)
    }
}
