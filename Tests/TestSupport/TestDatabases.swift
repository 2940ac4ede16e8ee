import EnableBotCore
import Foundation
import Logging

/// The storage backends every store test runs against.
public enum TestDatabaseKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }
}

/// A fresh, migrated database for one test: a new SQLite file, or a new schema in the throwaway PostgreSQL
/// that `scripts/test.sh` starts (its URL in `ENABLEBOT_TEST_POSTGRES_URL`).
public struct TestDatabase: Sendable {
    public let kind: TestDatabaseKind
    public let database: any Database
    /// The `DATABASE_URL` that opens this same database, for starting a service on it.
    public let url: String

    public static func make(_ kind: TestDatabaseKind, migrate: Bool = true) async throws -> TestDatabase {
        let url: String
        switch kind {
        case .sqlite:
            url = "sqlite:" + TestPaths.temporaryDirectory() + "/test.sqlite"
        case .postgres:
            url = try await PostgresTestServer.freshSchemaURL()
        }
        let database = try DatabaseFactory.open(url: url, poolSize: 4, logger: TestLog.logger)
        if migrate { try await Migrator.migrate(database, logger: TestLog.logger) }
        return TestDatabase(kind: kind, database: database, url: url)
    }

    public func shutdown() async { await database.shutdown() }
}

public enum PostgresTestServer {
    /// The throwaway PostgreSQL is not there: says how to start it rather than skipping the test.
    public typealias NotConfigured = TestServiceNotConfigured

    /// The server's base URL (to the `postgres` superuser database).
    public static func baseURL() throws -> String {
        try TestServiceNotConfigured.require("ENABLEBOT_TEST_POSTGRES_URL", service: "PostgreSQL")
    }

    /// Creates a new schema and returns a URL whose connections use it, so tests never see each other's rows.
    public static func freshSchemaURL() async throws -> String {
        let base = try baseURL()
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let admin = try PostgresDatabase(url: base, poolSize: 1, logger: TestLog.logger)
        try await admin.query("CREATE SCHEMA \(schema)")
        await admin.shutdown()
        return base + (base.contains("?") ? "&" : "?") + "options=-csearch_path%3D\(schema)"
    }
}

public enum TestPaths {
    /// A new empty directory under the system temp folder.
    public static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "enablebot-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

public enum TestLog {
    public static let logger: Logger = {
        var logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        return logger
    }()
}
