import Foundation
import Logging
import NIOConcurrencyHelpers

/// A Lua script run with `EVALSHA`, its source sent again (`EVAL`) when Redis has lost it.
public struct RedisScript: Sendable, Hashable {
    public let source: String

    public init(_ source: String) { self.source = source }
}

/// Redis over a small pool of blocking hiredis connections, each used on one thread of the pool's own
/// `NIOThreadPool`: callers `await`, no event loop or Swift concurrency thread ever blocks on a socket.
///
/// Connections open lazily, so a client can be made while Redis is still down (it may come up after the
/// service); each call then fails with a `RedisError` until Redis is reachable. A connection that breaks is
/// reopened by its next use.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let pool: BlockingPool<RedisConnection>
    /// Script source → the SHA1 Redis gave it at `SCRIPT LOAD`.
    private let scriptHashes = NIOLockedValueBox<[String: String]>([:])

    /// Parses `url` (see `RedisConfiguration`); a malformed one throws a `ConfigurationError` naming `REDIS_URL`.
    /// Nothing connects yet.
    public convenience init(url: String, poolSize: Int, logger: Logger) throws {
        try self.init(configuration: RedisConfiguration(url: url), poolSize: poolSize, logger: logger)
    }

    /// A client of at most `poolSize` connections (and as many pool threads).
    public init(configuration: RedisConfiguration, poolSize: Int, logger: Logger) {
        // hiredis writes with plain write(2): a socket the server has closed would raise SIGPIPE and kill the process.
        signal(SIGPIPE, SIG_IGN)
        self.configuration = configuration
        pool = BlockingPool(
            size: poolSize,
            connect: {
                let connection = try RedisConnection(configuration: configuration)
                logger.debug("redis connection opened", metadata: ["redis": "\(configuration.address)"])
                return connection
            },
            close: { $0.close() }
        )
    }

    /// Sends one command. An error reply comes back as `.error` (use `checked()` to throw it); connection
    /// failures and timeouts throw a `RedisError`.
    public func command(_ arguments: [String]) async throws -> RedisReply {
        try await withConnection { try $0.command(arguments) }
    }

    /// `PING`: succeeds when Redis answers `PONG` (for `/health`).
    public func ping() async throws {
        let reply = try await command(["PING"]).checked()
        guard reply.string == "PONG" else { throw RedisError(.unexpectedReply, "PING answered \(reply)") }
    }

    /// Runs `script` atomically: `EVALSHA` with the hash from one `SCRIPT LOAD`, or `EVAL` with the source when
    /// Redis answers `NOSCRIPT` (after `SCRIPT FLUSH`, a restart or a failover), which also caches it again.
    /// Error replies throw a `RedisError` of kind `.server`.
    public func run(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RedisReply {
        let known = scriptHashes.withLockedValue { $0[script.source] }
        let tail = [String(keys.count)] + keys + arguments
        return try await withConnection { [scriptHashes] connection in
            let hash: String
            if let known {
                hash = known
            } else {
                let loaded = try connection.command(["SCRIPT", "LOAD", script.source]).checked()
                guard let sha = loaded.string else { throw RedisError(.unexpectedReply, "SCRIPT LOAD gave no hash") }
                scriptHashes.withLockedValue { $0[script.source] = sha }
                hash = sha
            }
            let reply = try connection.command(["EVALSHA", hash] + tail)
            if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
                return try connection.command(["EVAL", script.source] + tail).checked()
            }
            return try reply.checked()
        }
    }

    /// Closes every connection and stops the pool's threads; later calls throw `RedisError.Kind.shutdown`.
    public func shutdown() async {
        await pool.shutdown()
    }

    private func withConnection<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws -> T) async throws -> T {
        do {
            return try await pool.withConnection(body)
        } catch is DatabaseError {
            // BlockingPool speaks DatabaseError when it is closed; to callers this is Redis being shut down.
            throw RedisError(.shutdown, "the Redis client is shut down")
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as RedisError {
            throw error
        } catch {
            // NIOThreadPool refusing work after shutdown.
            throw RedisError(.shutdown, "the Redis client is shut down")
        }
    }
}
