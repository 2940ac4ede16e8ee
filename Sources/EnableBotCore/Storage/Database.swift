import Logging

/// Which SQL the driver speaks. Stores write one statement for both where they can, and one each only where a
/// PostgreSQL statement saves round trips or locks that SQLite does not pay for (and in migrations).
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgres
}

/// The outcome of one statement: its rows (from a query or `RETURNING`) and how many rows it changed.
public struct SQLResult: Sendable {
    public var rows: [SQLRow]
    public var affectedRows: Int

    public init(rows: [SQLRow], affectedRows: Int) {
        self.rows = rows
        self.affectedRows = affectedRows
    }
}

/// A connection borrowed for the duration of `Database.withConnection` or `Database.transaction`. Its methods
/// block, so they are only ever called on the database's own thread pool.
public protocol SQLConnection: AnyObject {
    var dialect: SQLDialect { get }
    /// Statements use `$1, $2, …` placeholders on both databases; values are always bound, never spliced in.
    func run(_ sql: String, _ binds: [SQLValue]) throws -> SQLResult
    /// Runs `body` inside BEGIN … COMMIT on this connection; any thrown error rolls back.
    func transaction<T>(_ body: (any SQLConnection) throws -> T) throws -> T
}

extension SQLConnection {
    @discardableResult
    public func query(_ sql: String, _ binds: [SQLValue] = []) throws -> [SQLRow] {
        try run(sql, binds).rows
    }
}

/// The small SQL protocol every store is written against. Implementations run the blocking C calls on
/// their own threads, never on a SwiftNIO event loop.
public protocol Database: Sendable {
    var dialect: SQLDialect { get }

    /// Runs one statement on a pooled connection (auto-commit).
    func run(_ sql: String, _ binds: [SQLValue]) async throws -> SQLResult

    /// Runs `body` with one pooled connection held throughout, on the database's own threads. For work that needs
    /// several transactions back to back without queueing for the connection between them (group commit).
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T

    /// Like `withConnection`, ahead of other work waiting for a connection: for the ack path, where Slack waits for
    /// the answer (and retries after 3 s), while background work can wait a few milliseconds more.
    func withUrgentConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T

    /// Like `withConnection`, while holding the lock that makes processes starting together take turns at opening
    /// and migrating the database (SQLite: a `flock` beside the file; PostgreSQL: none here, the migrator takes an
    /// advisory lock inside its transaction).
    func withStartupLock<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T

    /// Closes every connection and stops the threads. Further calls fail.
    func shutdown() async
}

extension Database {
    public func withStartupLock<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await withConnection(body)
    }

    /// Runs `body` inside BEGIN … COMMIT on one connection; any thrown error rolls back.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await withConnection { try $0.transaction(body) }
    }

    /// Runs `batch` in transactions of its own until one touches no row; returns the rows touched in all. For
    /// retention work that must never hold its locks for long.
    public func inBatches(_ batch: @escaping @Sendable (any SQLConnection) throws -> Int) async throws -> Int {
        var total = 0
        while true {
            let touched = try await transaction(batch)
            total += touched
            if touched == 0 { return total }
        }
    }

    @discardableResult
    public func query(_ sql: String, _ binds: [SQLValue] = []) async throws -> [SQLRow] {
        try await run(sql, binds).rows
    }

    public func queryFirst(_ sql: String, _ binds: [SQLValue] = []) async throws -> SQLRow? {
        try await run(sql, binds).rows.first
    }

    /// A cheap round trip for health checks.
    public func ping() async throws {
        _ = try await run("SELECT 1", [])
    }
}

/// Opens the database a `DATABASE_URL` names: `sqlite:path` or `postgres://…` / `postgresql://…`.
public enum DatabaseFactory {
    public static func open(url: String, poolSize: Int, logger: Logger) throws -> any Database {
        if url.hasPrefix("sqlite:") {
            // `sqlite:data/x.sqlite` is relative; `sqlite:///abs/x.sqlite` and `sqlite:/abs/x.sqlite` are absolute.
            var path = Substring(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = path.dropFirst(2) }
            return try SQLiteDatabase(path: String(path), logger: logger)
        }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return try PostgresDatabase(url: url, poolSize: poolSize, logger: logger)
        }
        throw DatabaseError(.configuration, "DATABASE_URL must start with sqlite: or postgres://")
    }
}
