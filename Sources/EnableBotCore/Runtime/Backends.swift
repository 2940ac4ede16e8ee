import Foundation
import Logging
import ServiceLifecycle

/// The database and (with `REDIS_URL`) Redis a process runs on, opened from the settings. Each is closed by its own
/// `Service` when the service group shuts down: listed first, they stop last, after everything that uses them.
public struct Backends: Sendable {
    public let database: any Database
    /// nil without `REDIS_URL` (each process then keeps its own limits).
    public let redis: RedisClient?
    /// Whether `REDIS_URL` is set, so `/health` can tell "disabled" from "configured but missing".
    public let redisConfigured: Bool

    public init(database: any Database, redis: RedisClient? = nil, redisConfigured: Bool? = nil) {
        self.database = database
        self.redis = redis
        self.redisConfigured = redisConfigured ?? (redis != nil)
    }

    /// Opens the database and makes the Redis client. An unreachable Redis is a warning, not a refusal to start
    /// (it may come up after the service): limits fall back to this process's own until it answers.
    public static func open(settings: Settings, logger: Logger) async throws -> Backends {
        let database = try DatabaseFactory.open(url: settings.databaseURL, poolSize: settings.databasePoolSize, logger: logger)
        guard let url = settings.redisURL else { return Backends(database: database, redisConfigured: false) }
        do {
            let client = try RedisClient(url: url, poolSize: min(settings.databasePoolSize, 8), logger: logger)
            do {
                try await withTimeout(.seconds(3)) { try await client.ping() }
            } catch {
                logger.warning(
                    "Redis is not reachable yet; limits fall back to this instance's own until it is",
                    metadata: ["redis": "\(client.configuration.address)", "error": "\(error)"])
            }
            return Backends(database: database, redis: client, redisConfigured: true)
        } catch {
            await database.shutdown()
            throw error
        }
    }

    /// Applies the migrations and records the configured key ids: what every process does before it serves.
    public func prepare(keys: KeyRegistry, keyIDs: [String], logger: Logger) async throws {
        try await Migrator.migrate(database, logger: logger)
        try await keys.register(keyIDs: keyIDs)
    }

    /// The services that close these backends on shutdown, in start order (the database first, so it stops last).
    public var services: [any Service] {
        var services: [any Service] = [ClosingService(name: "database") { await database.shutdown() }]
        if let redis { services.append(ClosingService(name: "redis") { await redis.shutdown() }) }
        return services
    }

    /// For the CLI and tests, which run no service group.
    public func shutdown() async {
        await redis?.shutdown()
        await database.shutdown()
    }
}

/// A service that holds a resource open while the group runs and closes it once the group shuts down; the group
/// stops services in reverse order, so whatever was added after it (and uses it) has stopped by then.
public struct ClosingService: Service, CustomStringConvertible {
    public let description: String
    private let close: @Sendable () async -> Void

    public init(name: String, close: @escaping @Sendable () async -> Void) {
        description = name
        self.close = close
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}
