import EnableBotCore
import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// What one test started (servers, pools, clients, throwaway databases), shut down and awaited in reverse order
/// when the test's body returns or throws, so no test leaves a server running behind it.
///
/// ```swift
/// try await withStack { stack in
///     let slack = try await stack.slack()
///     let database = try await stack.database(kind)
///     ...
/// }   // here both are stopped, and the test waited for it
/// ```
public final class TestStack: Sendable {
    private let cleanups = NIOLockedValueBox<[@Sendable () async -> Void]>([])

    init() {}

    /// Runs `cleanup` (awaited) when the stack ends, before whatever was registered earlier.
    public func onExit(_ cleanup: @escaping @Sendable () async -> Void) {
        cleanups.withLockedValue { $0.append(cleanup) }
    }

    /// Hands `resource` back, with `shutdown` registered for the end of the stack.
    @discardableResult
    public func own<Resource: Sendable>(_ resource: Resource, shutdown: @escaping @Sendable (Resource) async -> Void) -> Resource {
        onExit { await shutdown(resource) }
        return resource
    }

    /// Shuts down everything registered so far, newest first, and waits for each.
    func close() async {
        while let cleanup = cleanups.withLockedValue({ $0.popLast() }) {
            await cleanup()
        }
    }
}

/// Runs `body` with a fresh `TestStack` and, whether it returns or throws, shuts down (and awaits) all it started.
public func withStack<Value>(
    isolation: isolated (any Actor)? = #isolation,
    _ body: (TestStack) async throws -> Value
) async throws -> Value {
    let stack = TestStack()
    let value: Value
    do {
        value = try await body(stack)
    } catch {
        await stack.close()
        throw error
    }
    await stack.close()
    return value
}

extension TestStack {
    /// A fresh, migrated database (SQLite file or PostgreSQL schema), closed at the end.
    public func database(_ kind: TestDatabaseKind, migrate: Bool = true) async throws -> TestDatabase {
        own(try await TestDatabase.make(kind, migrate: migrate)) { await $0.shutdown() }
    }

    /// A fake Slack (OAuth and messaging), stopped at the end.
    public func slack(clientID: String = FakeSlack.defaultClientID, clientSecret: String = FakeSlack.defaultClientSecret) async throws -> FakeSlack {
        own(try await FakeSlack.start(clientID: clientID, clientSecret: clientSecret)) { await $0.stop() }
    }

    /// A fake model server, stopped at the end.
    public func llm() async throws -> FakeLLM {
        own(try await FakeLLM.start()) { await $0.stop() }
    }

    /// A loopback HTTP server with the routes `configure` adds, stopped at the end.
    public func server(configure: (Router<BasicRequestContext>) -> Void) async throws -> LocalHTTPServer {
        own(try await LocalHTTPServer.start(configure: configure)) { await $0.stop() }
    }

    /// A client of the shared test Redis (`ENABLEBOT_TEST_REDIS_URL`), or of `url`; its pool closed at the end.
    public func redis(url: String? = nil, poolSize: Int = 4) throws -> RedisClient {
        let client = try RedisClient(url: url ?? TestRedis.url(), poolSize: poolSize, logger: TestLog.logger)
        return own(client) { await $0.shutdown() }
    }

    /// A `redis-server` of the test's own, killed and deleted at the end.
    public func dedicatedRedis(password: String? = nil) throws -> DedicatedRedis {
        own(try DedicatedRedis.start(password: password)) { $0.destroy() }
    }

    /// A PostgreSQL server of the test's own, stopped and deleted at the end.
    public func dedicatedPostgres() throws -> DedicatedPostgres {
        own(try DedicatedPostgres.start()) { $0.destroy() }
    }

    /// An HTTP client over libcurl, shut down at the end.
    public func http() -> CurlHTTPClient {
        own(CurlHTTPClient()) { $0.shutdown() }
    }
}

/// A fresh, migrated test database for `body`, closed when it returns or throws.
public func withTestDatabase<Value>(
    _ kind: TestDatabaseKind, migrate: Bool = true,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (TestDatabase) async throws -> Value
) async throws -> Value {
    try await withStack { stack in try await body(stack.database(kind, migrate: migrate)) }
}
