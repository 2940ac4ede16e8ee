/// One Redis reply, converted from hiredis's `redisReply` (which is freed right after).
public enum RedisReply: Sendable, Equatable {
    /// A bulk string. Redis strings are bytes; ours are UTF-8 (ids, numbers, JSON), decoded leniently.
    case string(String)
    case integer(Int)
    case array([RedisReply])
    /// A missing key (nil bulk string) or a nil array.
    case null
    /// A simple status such as `OK` or `PONG`.
    case status(String)
    /// An error reply (`ERR …`, `NOSCRIPT …`, `WRONGPASS …`): Redis refused this command; the connection is fine.
    case error(String)

    /// The reply, or a `RedisError` of kind `.server` when Redis answered with an error.
    public func checked() throws -> RedisReply {
        if case .error(let message) = self { throw RedisError(.server, message) }
        return self
    }

    public var string: String? {
        switch self {
        case .string(let value), .status(let value): value
        default: nil
        }
    }

    public var integer: Int? {
        switch self {
        case .integer(let value): value
        case .string(let value): Int(value)
        default: nil
        }
    }

    public var array: [RedisReply]? {
        if case .array(let values) = self { return values }
        return nil
    }
}

/// A Redis failure. The message is Redis's or the socket's own error text, never a command's arguments
/// (they may carry tenant or user ids).
public struct RedisError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Could not connect, or the connection dropped (the next use reconnects).
        case connection
        /// No reply within the command timeout.
        case timeout
        /// `AUTH` was refused.
        case authentication
        /// Redis answered with an error reply.
        case server
        /// A reply of a shape the caller did not expect.
        case unexpectedReply
        /// The client was shut down.
        case shutdown
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "redis \(kind): \(message)" }

    /// True for Redis's "script not in the cache" reply (after `SCRIPT FLUSH` or a restart).
    var isNoScript: Bool { kind == .server && message.hasPrefix("NOSCRIPT") }
}
