/// A storage failure. The message is the driver's primary error text only: never bound values, which may be secrets.
public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case connection       // could not connect, or the connection dropped
        case constraint       // unique or foreign-key violation
        case busy             // SQLite lock held too long
        case query            // any other statement failure
        case unexpectedValue  // a column was missing or of another type
        case configuration    // a malformed DATABASE_URL
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "database \(kind): \(message)" }

    static func unexpectedValue(column: String) -> DatabaseError {
        DatabaseError(.unexpectedValue, "column \(column) is missing or has an unexpected type")
    }
}
