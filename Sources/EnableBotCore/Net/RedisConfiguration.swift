import Foundation

/// Where and how to reach Redis, parsed from `REDIS_URL`:
/// `redis://[[user]:password@]host[:port][/db]` (also `?db=N`), or `unix:///path/to/redis.sock[?db=N&password=…]`.
/// Passwords with `@`, `:` or `/` must be percent-encoded, as in any URL.
public struct RedisConfiguration: Sendable, Equatable {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public var endpoint: Endpoint
    /// For Redis 6 ACL users (`AUTH user password`); nil sends the legacy `AUTH password`.
    public var username: String?
    /// nil: no `AUTH`.
    public var password: String?
    /// The logical database chosen with `SELECT` (0 is Redis's default and needs no `SELECT`).
    public var database: Int
    /// A connect that takes longer fails; keeps a service from hanging on an unreachable host.
    public var connectTimeout: Duration = .seconds(2)
    /// A command whose reply takes longer fails with `RedisError.Kind.timeout`.
    public var commandTimeout: Duration = .seconds(2)

    public init(endpoint: Endpoint, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses a `REDIS_URL`. Errors name the setting and the expected shape, never the URL itself (it may hold
    /// a password).
    public init(url: String) throws {
        let expected = "must be redis://[:password@]host:6379/0 or unix:///path/to/redis.sock"
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw ConfigurationError("REDIS_URL", "is not a valid URL; it \(expected)")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name.lowercased(), $0.value ?? "") }, uniquingKeysWith: { $1 })
        var database = 0
        var password = components.password
        let username = components.user.flatMap { $0.isEmpty ? nil : $0 }
        switch scheme {
        case "redis":
            guard var host = components.host, !host.isEmpty else {
                throw ConfigurationError("REDIS_URL", "has no host; it \(expected)")
            }
            // IPv6 literals arrive with or without their brackets depending on the Foundation version.
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            let port = components.port ?? 6379
            guard (1...65535).contains(port) else {
                throw ConfigurationError("REDIS_URL", "has port \(port); a port is 1-65535")
            }
            let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else {
                    throw ConfigurationError("REDIS_URL", "has database \"\(path)\"; after the host comes /N, a number ≥ 0")
                }
                database = number
            }
            self.init(endpoint: .tcp(host: host, port: port))
        case "unix":
            guard !components.path.isEmpty else {
                throw ConfigurationError("REDIS_URL", "has no socket path; it \(expected)")
            }
            self.init(endpoint: .unix(path: components.path))
        case "rediss":
            throw ConfigurationError("REDIS_URL", "uses TLS (rediss://), which this build does not support; it \(expected)")
        default:
            throw ConfigurationError("REDIS_URL", "has scheme \"\(scheme)\"; it \(expected)")
        }
        if let db = query["db"] {
            guard let number = Int(db), number >= 0 else {
                throw ConfigurationError("REDIS_URL", "has db=\"\(db)\"; db is a number ≥ 0")
            }
            database = number
        }
        if password == nil, let fromQuery = query["password"], !fromQuery.isEmpty { password = fromQuery }
        self.username = password == nil ? nil : username
        self.password = password.flatMap { $0.isEmpty ? nil : $0 }
        self.database = database
    }

    /// `host:port` or the socket path: for log lines and errors (never the password).
    public var address: String {
        switch endpoint {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): path
        }
    }
}
