import Foundation
import Logging
import NIOConcurrencyHelpers

/// What both services and the CLI share once settings are read: the database (migrated), Redis when
/// `REDIS_URL` is set, the cipher and the stores over them. Built once in `main`, passed to the application builders.
public struct CoreRuntime: Sendable {
    public let settings: Settings
    public let logger: Logger
    public let database: any Database
    /// Shared limits across instances; nil without `REDIS_URL` (each process then limits on its own).
    public let redis: RedisClient?
    public let cipher: any Cipher
    public let now: @Sendable () -> Date

    public let installations: InstallationStore
    public let auditLog: AuditLog
    public let oauthStates: OAuthStateStore
    public let jobs: JobQueue
    public let processedEvents: ProcessedEvents
    public let chatMemory: ChatMemory
    public let usage: UsageCounters
    public let keys: KeyRegistry
    public let dashboardSessions: DashboardSessions

    public init(
        settings: Settings, logger: Logger, database: any Database, redis: RedisClient? = nil,
        now: @escaping @Sendable () -> Date = Date.init
    ) throws {
        self.settings = settings
        self.logger = logger
        self.database = database
        self.redis = redis
        self.now = now
        cipher = try TokenCipher(keys: settings.encryptionKeys)
        installations = InstallationStore(database: database, cipher: cipher, now: now)
        auditLog = AuditLog(database: database, now: now)
        oauthStates = OAuthStateStore(database: database, now: now)
        jobs = JobQueue(database: database, now: now)
        processedEvents = ProcessedEvents(database: database, now: now)
        chatMemory = ChatMemory(database: database, now: now)
        usage = UsageCounters(database: database, now: now)
        keys = KeyRegistry(database: database, now: now)
        dashboardSessions = DashboardSessions(database: database, now: now)
    }

    /// Opens the database, applies migrations and records the configured key ids: what every process does at start.
    /// With `REDIS_URL` it also makes the Redis client; an unreachable Redis is a warning, not a refusal to start
    /// (it may come up after the service): `/health` answers 503 until it answers.
    public static func start(settings: Settings, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) async throws -> CoreRuntime {
        let database = try DatabaseFactory.open(url: settings.databaseURL, poolSize: settings.databasePoolSize, logger: logger)
        var redis: RedisClient?
        do {
            if let url = settings.redisURL {
                let client = try RedisClient(url: url, poolSize: min(settings.databasePoolSize, 8), logger: logger)
                redis = client
                do {
                    try await withTimeout(.seconds(3)) { try await client.ping() }
                } catch {
                    logger.warning(
                        "Redis is not reachable yet; limits fall back to this instance's own and /health reports 503 until it is",
                        metadata: ["redis": "\(client.configuration.address)", "error": "\(error)"])
                }
            }
            try await Migrator.migrate(database, logger: logger)
            let runtime = try CoreRuntime(settings: settings, logger: logger, database: database, redis: redis, now: now)
            try await runtime.keys.register(keyIDs: settings.encryptionKeys.map(\.id))
            return runtime
        } catch {
            await redis?.shutdown()
            await database.shutdown()
            throw error
        }
    }

    /// Closes Redis and the database, in that order (nothing uses Redis once requests have stopped).
    public func shutdown() async {
        await redis?.shutdown()
        await database.shutdown()
    }

    /// The dependency checks `/health` reports.
    public func healthReport(service: ServiceName, timeout: Duration = .seconds(2)) async -> HealthReport {
        let backends = Backends(database: database, redis: redis, redisConfigured: settings.redisURL != nil)
        return await HealthCheck(backends: backends, keys: keys, settings: settings, logger: logger).report(service: service, timeout: timeout)
    }
}
