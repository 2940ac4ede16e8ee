import Foundation

/// A value bound to, or read from, a SQL statement. Both drivers map their column types onto these four.
/// Booleans are stored as integers and times as epoch milliseconds, so one schema reads the same on both.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(nilLiteral: ()) { self = .null }
}

extension SQLValue {
    /// PostgreSQL cannot store NUL in text, so neither driver accepts it: both backends behave the same.
    static func rejectingNUL(_ binds: [SQLValue]) throws {
        for case .text(let text) in binds where containsNUL(text) {
            throw DatabaseError(.query, "text values cannot contain NUL characters")
        }
    }

    /// memchr over the contiguous UTF-8 of a native string (every bound job payload passes here).
    private static func containsNUL(_ text: String) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { bytes in
            guard let base = bytes.baseAddress else { return false }
            return memchr(base, 0, bytes.count) != nil
        } ?? text.utf8.contains(0)
    }

    public static func from(_ value: String?) -> SQLValue { value.map(SQLValue.text) ?? .null }
    public static func from(_ value: Int64?) -> SQLValue { value.map(SQLValue.integer) ?? .null }
    public static func from(_ value: Int?) -> SQLValue { value.map { .integer(Int64($0)) } ?? .null }
    public static func from(_ value: Bool) -> SQLValue { .integer(value ? 1 : 0) }
    public static func from(_ value: Date?) -> SQLValue { value.map { .integer($0.epochMilliseconds) } ?? .null }
}

extension Date {
    /// Milliseconds since 1970: how every timestamp column is stored.
    public var epochMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }
    public init(epochMilliseconds: Int64) { self.init(timeIntervalSince1970: Double(epochMilliseconds) / 1000) }
}

/// One result row. Accessors throw a `DatabaseError` naming the column when the value is missing or of another type.
public struct SQLRow: Sendable {
    public let columns: [String]
    public let values: [SQLValue]

    public init(columns: [String], values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript(_ column: String) -> SQLValue {
        guard let index = columns.firstIndex(of: column) else { return .null }
        return values[index]
    }

    public func string(_ column: String) throws -> String {
        guard let value = optionalString(column) else { throw DatabaseError.unexpectedValue(column: column) }
        return value
    }

    public func optionalString(_ column: String) -> String? {
        switch self[column] {
        case .text(let text): return text
        case .integer(let int): return String(int)
        case .real(let real): return String(real)
        case .null: return nil
        }
    }

    public func int64(_ column: String) throws -> Int64 {
        guard let value = optionalInt64(column) else { throw DatabaseError.unexpectedValue(column: column) }
        return value
    }

    public func optionalInt64(_ column: String) -> Int64? {
        switch self[column] {
        case .integer(let int): return int
        case .text(let text): return Int64(text)
        case .real(let real): return Int64(exactly: real.rounded(.down))
        case .null: return nil
        }
    }

    public func int(_ column: String) throws -> Int { Int(try int64(column)) }

    public func bool(_ column: String) throws -> Bool { try int64(column) != 0 }

    public func date(_ column: String) throws -> Date { Date(epochMilliseconds: try int64(column)) }

    public func optionalDate(_ column: String) -> Date? { optionalInt64(column).map(Date.init(epochMilliseconds:)) }
}

/// PostgreSQL's text form of an array, for passing a batch as one parameter (`CAST($1 AS TEXT[])`).
public enum PostgresArray {
    /// `{"a","b \"quoted\""}`: every element quoted, `"` and `\` escaped with a backslash.
    public static func text(_ elements: [String]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(2 + elements.reduce(0) { $0 + $1.utf8.count + 3 })
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
