import CSQLite
import Foundation
import Logging

/// The embedded default: one SQLite file in WAL mode. One connection on one dedicated thread serializes
/// every statement, which is what SQLite's single writer wants anyway and keeps busy-waiting out of the
/// hot path.
///
/// Processes sharing the file (both services, the CLI) take turns through an exclusive `flock` on
/// `<path>.startup-lock` while a connection sets its pragmas and while migrations run: two processes starting
/// on a fresh file would otherwise both try to switch it to WAL, and SQLite answers one of them "database is
/// locked" at once, without waiting out `busy_timeout`.
public final class SQLiteDatabase: Database {
    public let dialect = SQLDialect.sqlite
    public let path: String
    /// The sidecar file whose `flock` serializes opening and migrating; nil for `:memory:`.
    let startupLockPath: String?
    private let pool: BlockingPool<SQLiteConnection>
    /// A second connection, on its own thread, for single `SELECT`s: in WAL mode readers never wait for the writer,
    /// so the worker's reads (installations, tokens, thread memory) no longer queue on the connection the
    /// acknowledgements write on. nil for `:memory:`, where a second connection would be another database.
    private let readers: BlockingPool<SQLiteConnection>?

    public init(path: String, logger: Logger) throws {
        guard !path.isEmpty else { throw DatabaseError(.configuration, "sqlite: needs a file path") }
        self.path = path
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if path != ":memory:" {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw DatabaseError(.configuration, "cannot create folder \(directory) for the SQLite file")
            }
        }
        let lockPath = path == ":memory:" ? nil : path + ".startup-lock"
        startupLockPath = lockPath
        let connect: @Sendable () throws -> SQLiteConnection = {
            guard let lockPath else { return try SQLiteConnection(path: path) }
            return try FileLock.withExclusiveLock(path: lockPath) { try SQLiteConnection(path: path) }
        }
        pool = BlockingPool(size: 1, connect: connect, close: { $0.close() })
        readers = lockPath == nil ? nil : BlockingPool(size: 1, connect: connect, close: { $0.close() })
    }

    /// A statement that only reads: the first word is `SELECT`.
    static func isRead(_ sql: String) -> Bool {
        let head = sql.utf8.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\t") }.prefix(6)
        return head.count == 6 && String(decoding: head, as: UTF8.self).uppercased() == "SELECT"
    }

    /// Runs `body` on the connection while holding the startup lock, so no other process opens or migrates the
    /// file meanwhile (the lock is taken on the database thread, never on an event loop).
    public func withStartupLock<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        let lockPath = startupLockPath
        return try await pool.withConnection { connection in
            guard let lockPath else { return try body(connection) }
            return try FileLock.withExclusiveLock(path: lockPath) { try body(connection) }
        }
    }

    public func run(_ sql: String, _ binds: [SQLValue]) async throws -> SQLResult {
        if let readers, Self.isRead(sql) {
            return try await readers.withConnection { try $0.run(sql, binds) }
        }
        return try await pool.withConnection { try $0.run(sql, binds) }
    }

    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await pool.withConnection { try body($0) }
    }

    public func withUrgentConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await pool.withConnection(urgent: true) { try body($0) }
    }

    public func shutdown() async {
        await readers?.shutdown()
        await pool.shutdown()
    }
}

/// Owns one `sqlite3*` handle and a cache of prepared statements. Used by one thread at a time.
final class SQLiteConnection: SQLConnection {
    let dialect = SQLDialect.sqlite
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    init(path: String) throws {
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            handle = nil
            throw DatabaseError(.connection, "cannot open \(path): \(message)")
        }
        sqlite3_extended_result_codes(handle, 1)
        // WAL lets readers in other processes (the other service, the CLI) work during writes;
        // NORMAL sync is durable across process crashes, and a power loss loses at most the last commits.
        for pragma in [
            "PRAGMA busy_timeout = 5000", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL",
            "PRAGMA foreign_keys = ON",
        ] {
            _ = try run(pragma, [])
        }
    }

    func transaction<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        // IMMEDIATE takes the write lock up front, so two processes cannot both read-then-write.
        _ = try run("BEGIN IMMEDIATE", [])
        do {
            let result = try body(self)
            _ = try run("COMMIT", [])
            return result
        } catch {
            _ = try? run("ROLLBACK", [])
            throw error
        }
    }

    func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements = [:]
        sqlite3_close_v2(handle)
        handle = nil
    }

    func run(_ sql: String, _ binds: [SQLValue]) throws -> SQLResult {
        guard let handle else { throw DatabaseError(.connection, "connection is closed") }
        let statement = try prepare(sql, handle: handle)
        try SQLValue.rejectingNUL(binds)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (offset, value) in binds.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .null: code = sqlite3_bind_null(statement, index)
            case .integer(let int): code = sqlite3_bind_int64(statement, index, int)
            case .real(let real): code = sqlite3_bind_double(statement, index, real)
            case .text(let text):
                // Bound with its byte length, so a NUL inside the text is kept rather than cutting it short.
                // A native string lends its UTF-8 without a copy (SQLite copies it: TRANSIENT).
                code = text.withCString { csqlite_bind_text_transient(statement, index, $0, Int32(text.utf8.count)) }
            }
            guard code == SQLITE_OK else { throw error(code: code, handle: handle) }
        }
        var columns: [String] = []
        var columnCount = 0
        var rows: [SQLRow] = []
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else { throw error(code: code, handle: handle) }
            if rows.isEmpty {
                // Read after the first step: a cached statement whose table changed shape is compiled afresh there.
                columnCount = Int(sqlite3_column_count(statement))
                columns = (0..<columnCount).map { String(cString: sqlite3_column_name(statement, Int32($0))) }
            }
            var values: [SQLValue] = []
            values.reserveCapacity(columnCount)
            for column in 0..<Int32(columnCount) {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_NULL: values.append(.null)
                case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(statement, column)))
                case SQLITE_FLOAT: values.append(.real(sqlite3_column_double(statement, column)))
                default:
                    if let text = sqlite3_column_text(statement, column) {
                        let count = Int(sqlite3_column_bytes(statement, column))
                        values.append(.text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)))
                    } else {
                        values.append(.null)
                    }
                }
            }
            rows.append(SQLRow(columns: columns, values: values))
        }
        return SQLResult(rows: rows, affectedRows: Int(sqlite3_changes(handle)))
    }

    private func prepare(_ sql: String, handle: OpaquePointer) throws -> OpaquePointer {
        if let cached = statements[sql] { return cached }
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(handle, Self.numberedPlaceholders(sql), -1, &statement, nil)
        guard code == SQLITE_OK, let statement else { throw error(code: code, handle: handle) }
        statements[sql] = statement
        return statement
    }

    /// Stores write PostgreSQL's `$1`; SQLite reads `$1` as a *named* parameter, so turn it into `?1`.
    static func numberedPlaceholders(_ sql: String) -> String {
        var output = ""
        output.reserveCapacity(sql.utf8.count)
        var previous: Character = " "
        for character in sql {
            if previous == "$", character.isNumber {
                output.removeLast()
                output.append("?")
            }
            output.append(character)
            previous = character
        }
        return output
    }

    private func error(code: Int32, handle: OpaquePointer) -> DatabaseError {
        let message = String(cString: sqlite3_errmsg(handle))
        switch code & 0xFF {
        case SQLITE_CONSTRAINT: return DatabaseError(.constraint, message)
        case SQLITE_BUSY, SQLITE_LOCKED: return DatabaseError(.busy, message)
        case SQLITE_CANTOPEN, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_NOTADB: return DatabaseError(.connection, message)
        default: return DatabaseError(.query, message)
        }
    }
}
