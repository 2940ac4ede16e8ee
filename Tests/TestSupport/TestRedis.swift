import EnableBotCore
import Foundation

/// The throwaway Redis that `scripts/test-services.sh` starts (its URL in `ENABLEBOT_TEST_REDIS_URL`), and
/// Redis servers of a test's own for tests that need a password or stop the server.
public enum TestRedis {
    /// The throwaway Redis is not there: says how to start it rather than skipping the test.
    public typealias NotConfigured = TestServiceNotConfigured

    public static func url() throws -> String {
        try TestServiceNotConfigured.require("ENABLEBOT_TEST_REDIS_URL", service: "Redis")
    }

    /// A client of the shared test Redis. Tests keep to keys under `uniquePrefix()`, so they may run in parallel.
    public static func client(poolSize: Int = 4) throws -> RedisClient {
        try RedisClient(url: url(), poolSize: poolSize, logger: TestLog.logger)
    }

    /// `enablebot:test:<random>:`, a key space of one test's own.
    public static func uniquePrefix() -> String {
        "enablebot:test:" + UUID().uuidString.prefix(13).lowercased() + ":"
    }

}

/// A `redis-server` of a test's own on a free loopback port, optionally with a password; stop and start it
/// again on the same port to test outages and reconnects.
public final class DedicatedRedis: @unchecked Sendable {
    public struct Failed: Error, CustomStringConvertible {
        let message: String
        public var description: String { "dedicated redis: \(message)" }
    }

    public let port: Int
    public let password: String?
    private let directory: String
    private var process: Process?

    public static func start(password: String? = nil) throws -> DedicatedRedis {
        let server = DedicatedRedis(port: try FreePort.next(), password: password)
        try server.startServer()
        return server
    }

    private init(port: Int, password: String?) {
        self.port = port
        self.password = password
        directory = NSTemporaryDirectory() + "enablebot-redis-" + UUID().uuidString.prefix(8)
    }

    /// `redis://[:password@]127.0.0.1:port/db`.
    public func url(password: String? = nil, database: Int = 0) -> String {
        let auth = (password ?? self.password).map { ":\($0)@" } ?? ""
        return "redis://\(auth)127.0.0.1:\(port)/\(database)"
    }

    public func startServer() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        var arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory]
        if let password { arguments += ["--requirepass", password] }
        server.arguments = arguments
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.runSerialized()
        process = server
        // Ready once it accepts a TCP connection.
        for _ in 0..<200 {
            if Self.accepts(port: port) { return }
            usleep(25_000)
        }
        throw Failed(message: "redis-server did not start on port \(port)")
    }

    /// Kills the server and waits for it to exit. SIGKILL, not SIGTERM: the child inherits the test process's
    /// blocked-signal mask, so a SIGTERM may never arrive (and a crash is what an outage looks like anyway).
    public func stopServer() {
        guard let process else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Stops the server and deletes its folder.
    public func destroy() {
        stopServer()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
