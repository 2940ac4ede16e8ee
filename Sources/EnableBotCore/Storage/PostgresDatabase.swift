import CLibPQ
import Foundation
import Logging

/// PostgreSQL through libpq: a pool of `DATABASE_POOL_SIZE` blocking connections, each used by one pool
/// thread at a time.
public final class PostgresDatabase: Database {
    public let dialect = SQLDialect.postgres
    private let pool: BlockingPool<PostgresConnection>

    /// `url` is a libpq URI (`postgres://user:pass@host:5432/db?sslmode=…`); it is not opened until first use.
    public init(url: String, poolSize: Int, logger: Logger) throws {
        guard PQisthreadsafe() == 1 else { throw DatabaseError(.configuration, "libpq was built without thread safety") }
        let logger = logger
        pool = BlockingPool(
            size: poolSize,
            connect: { try PostgresConnection(url: url, logger: logger) },
            close: { $0.close() }
        )
    }

    public func run(_ sql: String, _ binds: [SQLValue]) async throws -> SQLResult {
        try await pool.withConnection { try $0.run(sql, binds, retryIfDropped: true) }
    }

    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await pool.withConnection { try body($0) }
    }

    public func withUrgentConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await pool.withConnection(urgent: true) { try body($0) }
    }

    public func shutdown() async { await pool.shutdown() }
}

/// Owns one `PGconn*`. A connection found dropped is reset before use; a statement that fails because the
/// connection dropped is retried once on a fresh connection when that cannot apply it twice (see `run`).
///
/// Statements with parameters are prepared once per connection and then only executed: the app runs the same few
/// dozen statements over and over, and parsing and planning each one anew was most of the server's CPU per answer.
final class PostgresConnection: SQLConnection {
    let dialect = SQLDialect.postgres
    private var handle: OpaquePointer?
    private let logger: Logger
    /// The statements prepared on this session, by their text.
    private var prepared: [String: String] = [:]
    private var preparedCount = 0
    /// Past this many, further statements run unprepared (the app's own are far fewer; this bounds the server's memory).
    static let maxPrepared = 200

    init(url: String, logger: Logger) throws {
        self.logger = logger
        // Keywords before "dbname" are defaults the URL may override.
        let keywords = ["connect_timeout", "fallback_application_name", "dbname"]
        let values = ["5", "enablebot", url]
        handle = withArrayOfCStrings(keywords) { keywordPointers in
            withArrayOfCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let handle, PQstatus(handle) == CONNECTION_OK else {
            let message = handle.map { Self.firstLine(String(cString: PQerrorMessage($0))) } ?? "out of memory"
            PQfinish(handle)
            self.handle = nil
            throw DatabaseError(.connection, message)
        }
        // Notices (e.g. "relation already exists, skipping") would otherwise go to stderr as plain text.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
    }

    func close() {
        PQfinish(handle)
        handle = nil
    }

    func transaction<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        _ = try run("BEGIN", [], retryIfDropped: true)
        do {
            let result = try body(self)
            _ = try run("COMMIT", [], retryIfDropped: false)
            return result
        } catch {
            _ = try? run("ROLLBACK", [], retryIfDropped: false)
            throw error
        }
    }

    func run(_ sql: String, _ binds: [SQLValue]) throws -> SQLResult {
        // Inside a transaction a dropped connection has lost the transaction: never retry there.
        try run(sql, binds, retryIfDropped: false)
    }

    /// A statement is retried after a drop only when it is a plain read; a write may have committed before
    /// the connection went away, and repeating it is not ours to decide.
    func run(_ sql: String, _ binds: [SQLValue], retryIfDropped: Bool) throws -> SQLResult {
        guard let handle else { throw DatabaseError(.connection, "connection is closed") }
        if PQstatus(handle) != CONNECTION_OK { try reset(handle) }
        do {
            return try execute(sql, binds, handle: handle)
        } catch let error as DatabaseError where error.kind == .connection {
            guard retryIfDropped, Self.isReadOnly(sql) || sql == "BEGIN" else { throw error }
            logger.warning("database connection dropped; retrying once on a new connection")
            try reset(handle)
            return try execute(sql, binds, handle: handle)
        }
    }

    private func reset(_ handle: OpaquePointer) throws {
        prepared = [:]  // A new session knows none of them.
        PQreset(handle)
        guard PQstatus(handle) == CONNECTION_OK else {
            throw DatabaseError(.connection, Self.firstLine(String(cString: PQerrorMessage(handle))))
        }
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
    }

    private func execute(_ sql: String, _ binds: [SQLValue], handle: OpaquePointer, preparedAgain: Bool = false) throws -> SQLResult {
        try SQLValue.rejectingNUL(binds)
        let texts: [String?] = binds.map { value in
            switch value {
            case .null: return nil
            case .integer(let int): return String(int)
            case .real(let real): return String(real)
            case .text(let text): return text
            }
        }
        let cStrings = texts.map { $0.map { strdup($0) } ?? nil }
        defer { cStrings.forEach { free($0) } }
        let name = binds.isEmpty ? nil : try preparedName(for: sql, handle: handle)
        let result: OpaquePointer? = cStrings.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { params in
                if let name {
                    PQexecPrepared(handle, name, Int32(binds.count), params.baseAddress, nil, nil, 0)
                } else {
                    PQexecParams(handle, sql, Int32(binds.count), nil, params.baseAddress, nil, nil, 0)
                }
            }
        }
        defer { PQclear(result) }
        guard let result else {
            throw DatabaseError(.connection, Self.firstLine(String(cString: PQerrorMessage(handle))))
        }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK:
            return SQLResult(rows: Self.rows(of: result), affectedRows: Int(String(cString: PQcmdTuples(result))) ?? 0)
        default:
            let failure = error(result: result, handle: handle)
            if let name, !preparedAgain, Self.invalidatesPrepared(result) {
                // The schema changed under the prepared statement (a column added to a table it reads) or the session
                // lost it: forget it; outside a transaction, prepare it afresh and run it once more.
                prepared[sql] = nil
                PQclear(PQexec(handle, "DEALLOCATE \(name)"))
                if PQtransactionStatus(handle) == PQTRANS_IDLE { return try execute(sql, binds, handle: handle, preparedAgain: true) }
            }
            throw failure
        }
    }

    /// The name `sql` is prepared under on this session (prepared now if new), or nil once `maxPrepared` are.
    private func preparedName(for sql: String, handle: OpaquePointer) throws -> String? {
        if let name = prepared[sql] { return name }
        guard prepared.count < Self.maxPrepared else { return nil }
        preparedCount += 1
        let name = "enablebot_\(preparedCount)"
        let result = PQprepare(handle, name, sql, 0, nil)
        defer { PQclear(result) }
        guard let result else { throw DatabaseError(.connection, Self.firstLine(String(cString: PQerrorMessage(handle)))) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else { throw error(result: result, handle: handle) }
        prepared[sql] = name
        return name
    }

    /// "cached plan must not change result type" (0A000) and "prepared statement does not exist" (26000).
    private static func invalidatesPrepared(_ result: OpaquePointer) -> Bool {
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        return state == "0A000" || state == "26000"
    }

    private func error(result: OpaquePointer, handle: OpaquePointer) -> DatabaseError {
        if PQstatus(handle) != CONNECTION_OK {
            return DatabaseError(.connection, Self.firstLine(String(cString: PQerrorMessage(handle))))
        }
        let field = { (code: UInt8) -> String in
            PQresultErrorField(result, Int32(code)).map { String(cString: $0) } ?? ""
        }
        // The primary message only: DETAIL would echo the offending values (e.g. a duplicate key).
        let message = field(UInt8(ascii: "M"))
        let state = field(UInt8(ascii: "C"))
        switch state {
        case let code where code.hasPrefix("23"): return DatabaseError(.constraint, message)
        case let code where code.hasPrefix("08") || code.hasPrefix("57P"): return DatabaseError(.connection, message)
        default: return DatabaseError(.query, "\(message) (SQLSTATE \(state))")
        }
    }

    private static func rows(of result: OpaquePointer) -> [SQLRow] {
        let rowCount = PQntuples(result)
        let columnCount = PQnfields(result)
        guard columnCount > 0 else { return [] }
        let columns = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        let types = (0..<columnCount).map { PQftype(result, $0) }
        var rows: [SQLRow] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            var values: [SQLValue] = []
            values.reserveCapacity(Int(columnCount))
            for column in 0..<columnCount {
                if PQgetisnull(result, row, column) == 1 {
                    values.append(.null)
                    continue
                }
                let length = Int(PQgetlength(result, row, column))
                let text = PQgetvalue(result, row, column).withMemoryRebound(to: UInt8.self, capacity: length) {
                    String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                }
                switch types[Int(column)] {
                case 20, 21, 23: values.append(Int64(text).map(SQLValue.integer) ?? .text(text))  // int8, int2, int4
                case 700, 701: values.append(Double(text).map(SQLValue.real) ?? .text(text))  // float4, float8
                case 16: values.append(.integer(text == "t" ? 1 : 0))  // bool
                default: values.append(.text(text))
                }
            }
            rows.append(SQLRow(columns: columns, values: values))
        }
        return rows
    }

    private static func isReadOnly(_ sql: String) -> Bool {
        sql.drop(while: \.isWhitespace).prefix(6).uppercased() == "SELECT"
    }

    private static func firstLine(_ message: String) -> String {
        message.split(separator: "\n").first.map(String.init) ?? "unknown error"
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the duration of the call.
private func withArrayOfCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    let terminated: [UnsafePointer<CChar>?] = pointers.map { UnsafePointer($0) } + [nil]
    return terminated.withUnsafeBufferPointer { body($0.baseAddress!) }
}
