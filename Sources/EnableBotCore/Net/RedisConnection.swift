import CHiredis
import Foundation

/// One blocking hiredis connection. It owns its `redisContext`, is used by one thread at a time (the
/// `RedisClient`'s pool hands it to one pool thread per command) and never runs on an event loop.
///
/// hiredis marks a context unusable once it sees an I/O or protocol error; this wrapper then frees it, throws a
/// typed `RedisError`, and opens a new context on the next use, so a pooled connection heals after a Redis restart.
final class RedisConnection {
    private let configuration: RedisConfiguration
    private var context: UnsafeMutablePointer<redisContext>?

    /// Connects, authenticates and selects the database at once, so a bad password fails where it is configured.
    init(configuration: RedisConfiguration) throws {
        self.configuration = configuration
        try connect()
    }

    deinit { close() }

    /// Frees the context (and its socket).
    func close() {
        if let context { redisFree(context) }
        context = nil
    }

    var isConnected: Bool { context != nil }

    /// Sends one command and waits for its reply. Error replies come back as `.error`; only a broken or timed-out
    /// connection throws. A pooled connection that the server closed while idle is reopened and the command sent
    /// once more: Redis had closed the socket, so it never saw the first attempt.
    func command(_ arguments: [String]) throws -> RedisReply {
        let reused = context != nil
        if !reused { try connect() }
        do {
            return try send(arguments)
        } catch let closed as ClosedByPeer {
            guard reused else { throw closed.redisError }
            try connect()
            do { return try send(arguments) } catch let again as ClosedByPeer { throw again.redisError }
        }
    }

    // MARK: - hiredis

    /// The server closed the socket before answering: safe to retry once on a new connection.
    private struct ClosedByPeer: Error {
        let redisError: RedisError
    }

    private func connect() throws {
        close()
        let timeout = Self.makeTimeval(configuration.connectTimeout)
        let opened: UnsafeMutablePointer<redisContext>? = switch configuration.endpoint {
        case .tcp(let host, let port): redisConnectWithTimeout(host, Int32(port), timeout)
        case .unix(let path): redisConnectUnixWithTimeout(path, timeout)
        }
        guard let opened else {
            throw RedisError(.connection, "cannot connect to Redis at \(configuration.address): out of memory")
        }
        if opened.pointee.err != 0 {
            let message = Self.errorText(opened)
            redisFree(opened)
            throw RedisError(.connection, "cannot connect to Redis at \(configuration.address): \(message)")
        }
        guard redisSetTimeout(opened, Self.makeTimeval(configuration.commandTimeout)) == REDIS_OK else {
            let message = Self.errorText(opened)
            redisFree(opened)
            throw RedisError(.connection, "cannot set the Redis command timeout: \(message)")
        }
        context = opened
        do {
            if let password = configuration.password {
                let auth = try send(configuration.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
                if case .error(let message) = auth { throw RedisError(.authentication, "Redis refused AUTH: \(message)") }
            }
            if configuration.database != 0 {
                let select = try send(["SELECT", String(configuration.database)])
                if case .error(let message) = select {
                    throw RedisError(.server, "Redis refused SELECT \(configuration.database): \(message)")
                }
            }
        } catch let error as ClosedByPeer {
            close()
            throw error.redisError
        } catch {
            close()
            throw error
        }
    }

    /// `redisCommandArgv` with explicit lengths: arguments may hold any bytes, NUL and CRLF included.
    private func send(_ arguments: [String]) throws -> RedisReply {
        guard let context else { throw RedisError(.connection, "not connected to Redis") }
        // All arguments in one buffer; argv points into it.
        var bytes: [UInt8] = []
        var lengths: [Int] = []
        for argument in arguments {
            let utf8 = Array(argument.utf8)
            bytes += utf8
            lengths.append(utf8.count)
        }
        if bytes.isEmpty { bytes = [0] }
        errno = 0
        let raw: UnsafeMutableRawPointer? = bytes.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var offset = 0
            var argv: [UnsafePointer<CChar>?] = lengths.map { length in
                defer { offset += length }
                return base + offset
            }
            return argv.withUnsafeMutableBufferPointer { argvBuffer in
                lengths.withUnsafeBufferPointer { lengthBuffer in
                    redisCommandArgv(context, Int32(arguments.count), argvBuffer.baseAddress, lengthBuffer.baseAddress)
                }
            }
        }
        let savedErrno = errno
        guard let raw else { throw brokenConnectionError(errno: savedErrno) }
        defer { freeReplyObject(raw) }
        return Self.convert(raw.assumingMemoryBound(to: redisReply.self))
    }

    /// Classifies a failed command and drops the context hiredis has marked unusable.
    private func brokenConnectionError(errno code: Int32) -> any Error {
        guard let context else { return RedisError(.connection, "not connected to Redis") }
        let kind = context.pointee.err
        let message = Self.errorText(context)
        close()
        if kind == REDIS_ERR_IO, code == EAGAIN || code == EWOULDBLOCK {
            return RedisError(.timeout, "no reply from Redis at \(configuration.address) within \(configuration.commandTimeout)")
        }
        let error = RedisError(.connection, "lost the connection to Redis at \(configuration.address): \(message)")
        if kind == REDIS_ERR_EOF || (kind == REDIS_ERR_IO && (code == ECONNRESET || code == EPIPE)) {
            return ClosedByPeer(redisError: error)
        }
        return error
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let r = reply.pointee
        func text() -> String {
            guard let str = r.str else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: str, count: r.len), as: UTF8.self)
        }
        switch r.type {
        case REDIS_REPLY_STRING: return .string(text())
        case REDIS_REPLY_STATUS: return .status(text())
        case REDIS_REPLY_ERROR: return .error(text())
        case REDIS_REPLY_INTEGER: return .integer(Int(r.integer))
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ARRAY:
            guard let elements = r.element else { return .array([]) }
            return .array((0..<r.elements).map { index in elements[index].map(convert) ?? .null })
        default: return .error("unknown reply type \(r.type)")
        }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { buffer in
            let bytes = buffer.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func makeTimeval(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        return timeval(tv_sec: .init(seconds), tv_usec: .init(attoseconds / 1_000_000_000_000))
    }
}
