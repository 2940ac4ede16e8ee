import Foundation
import Logging

/// One numbered schema change. Statements may differ by dialect (identity columns); the logical schema may not.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let statements: @Sendable (SQLDialect) -> [String]
}

/// Applies the numbered migrations in order, once each, in one transaction. On PostgreSQL an advisory lock
/// makes several instances starting at once wait for each other; on SQLite the startup `flock` does (with
/// `BEGIN IMMEDIATE` behind it).
public enum Migrator {
    /// An arbitrary constant: the advisory lock key every EnableBot process agrees on.
    static let advisoryLockKey: Int64 = 0x656E_6162_6C65

    /// Returns the versions applied by this call (empty when the schema was current).
    @discardableResult
    public static func migrate(_ database: any Database, logger: Logger) async throws -> [Int] {
        let dialect = database.dialect
        let applied = try await database.withStartupLock { connection in
            try connection.transaction { try apply(on: $0, dialect: dialect) }
        }
        for version in applied {
            logger.info("applied migration", metadata: ["version": "\(version)"])
        }
        return applied
    }

    private static func apply(on connection: any SQLConnection, dialect: SQLDialect) throws -> [Int] {
        if dialect == .postgres {
            try connection.query("SELECT pg_advisory_xact_lock($1)", [.integer(advisoryLockKey)])
        }
        try connection.query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        )
        let done = Set(try connection.query("SELECT version FROM schema_migrations").map { try $0.int("version") })
        var appliedNow: [Int] = []
        for migration in SchemaMigrations.all where !done.contains(migration.version) {
            for statement in migration.statements(dialect) {
                try connection.query(statement)
            }
            try connection.query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                [.integer(Int64(migration.version)), .text(migration.name), .from(Date())]
            )
            appliedNow.append(migration.version)
        }
        return appliedNow
    }

    /// Every version known to this build, in order (not necessarily contiguous while branches merge).
    public static var versions: [Int] { SchemaMigrations.all.map(\.version).sorted() }

    /// The highest version known to this build.
    public static var latestVersion: Int { SchemaMigrations.all.map(\.version).max() ?? 0 }
}
