import Foundation
import Logging

/// What `GET /health` checks: the database (a service without it cannot work), Redis when configured (a soft
/// dependency: limits fall back to per-process ones), and whether the active encryption key is due for rotation.
public struct HealthCheck: Sendable {
    let backends: Backends
    let keys: KeyRegistry
    let keyIDs: [String]
    let rotationDays: Int
    let logger: Logger

    public init(backends: Backends, keys: KeyRegistry, settings: Settings, logger: Logger) {
        self.backends = backends
        self.keys = keys
        self.keyIDs = settings.encryptionKeys.map(\.id)
        self.rotationDays = settings.keyRotationDays
        self.logger = logger
    }

    public func report(service: ServiceName, timeout: Duration = .seconds(2)) async -> HealthReport {
        var checks: [String: String] = [:]
        async let redisCheck = redisHealth(timeout: timeout)
        do {
            try await withTimeout(timeout) { [database = backends.database] in try await database.ping() }
            checks["database"] = "ok"
        } catch {
            checks["database"] = "error"
        }
        checks["redis"] = await redisCheck
        let due = (try? await keys.ages(keyIDs: keyIDs, rotationDays: rotationDays))?.first?.rotationDue ?? false
        return HealthReport(service: service, checks: checks, keyRotationDue: due)
    }

    /// "disabled" without `REDIS_URL`; otherwise whether Redis answers `PING` in time.
    private func redisHealth(timeout: Duration) async -> String {
        guard backends.redisConfigured else { return "disabled" }
        guard let redis = backends.redis else { return "error" }
        do {
            try await withTimeout(timeout) { try await redis.ping() }
            return "ok"
        } catch {
            logger.debug("redis health check failed", metadata: ["error": "\(error)"])
            return "error"
        }
    }
}

/// The body of `GET /health`.
public struct HealthReport: Sendable, Codable, Equatable {
    public var status: String
    public var service: String
    public var version: String
    public var checks: [String: String]
    public var keyRotationDue: Bool

    enum CodingKeys: String, CodingKey {
        case status, service, version, checks
        case keyRotationDue = "key_rotation_due"
    }

    /// "ok" when every check passes; "degraded" when only Redis fails (limits fall back to per-process ones and the
    /// service keeps answering, so a load balancer must not take it out); "unavailable" when the database fails.
    public init(service: ServiceName, checks: [String: String], keyRotationDue: Bool) {
        let failing = checks.filter { $0.value != "ok" && $0.value != "disabled" }.keys
        self.status = failing.isEmpty ? "ok" : failing.allSatisfy(Self.softDependencies.contains) ? "degraded" : "unavailable"
        self.service = service.rawValue
        self.version = EnableBotVersion.current
        self.checks = checks
        self.keyRotationDue = keyRotationDue
    }

    /// Checks whose failure degrades the service rather than stopping it.
    static let softDependencies: Set<String> = ["redis"]

    /// Whether the service can do its work: 200 for "ok" and "degraded", 503 for "unavailable".
    public var isServing: Bool { status != "unavailable" }

    /// The checks that failed, for the log line.
    public var failing: [String] { checks.filter { $0.value != "ok" && $0.value != "disabled" }.keys.sorted() }
}

public enum EnableBotVersion {
    public static let current = "0.1.0"
}

