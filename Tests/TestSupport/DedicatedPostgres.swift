import Foundation

/// A PostgreSQL server of a test's own, for tests that stop and restart the database (the shared one that
/// `scripts/test.sh` starts must stay up for everyone else). Uses the server binaries the script found.
public final class DedicatedPostgres: @unchecked Sendable {
    public let port: Int
    public let url: String
    private let directory: String
    private let bin: String

    public static func start() throws -> DedicatedPostgres {
        let bin = try TestServiceNotConfigured.require("ENABLEBOT_TEST_PG_BIN", service: "PostgreSQL server binaries")
        let server = DedicatedPostgres(bin: bin, port: try FreePort.next())
        try server.initialize()
        try server.startServer()
        return server
    }

    private init(bin: String, port: Int) {
        self.bin = bin
        self.port = port
        directory = "/tmp/enablebot-pg-" + UUID().uuidString.prefix(8)
        url = "postgres://postgres@127.0.0.1:\(port)/postgres?sslmode=disable"
    }

    private func initialize() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 { try Self.run("/bin/chown", ["postgres:postgres", directory]) }
        try asPostgres("\(bin)/initdb", ["-D", "\(directory)/data", "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    }

    public func startServer() throws {
        try asPostgres("\(bin)/pg_ctl", [
            "-D", "\(directory)/data", "-l", "\(directory)/server.log", "-w", "-t", "60",
            "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off", "start",
        ])
    }

    public func stopServer() throws {
        try asPostgres("\(bin)/pg_ctl", ["-D", "\(directory)/data", "-m", "immediate", "-w", "stop"])
    }

    /// Stops the server and deletes its files.
    public func destroy() {
        try? stopServer()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func asPostgres(_ executable: String, _ arguments: [String]) throws {
        if getuid() == 0 {
            try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments)
        } else {
            try Self.run(executable, arguments)
        }
    }

    struct CommandFailed: Error, CustomStringConvertible {
        let command: String
        let status: Int32
        var description: String { "\(command) exited with \(status)" }
    }

    /// posix_spawn and waitpid rather than Foundation's Process, whose wait can stall on Linux when the child
    /// leaves a daemon (the postmaster) behind.
    static func run(_ executable: String, _ arguments: [String]) throws {
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw CommandFailed(command: executable, status: spawned) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exitCode = (status >> 8) & 0xFF
        guard status & 0x7F == 0, exitCode == 0 else {
            throw CommandFailed(command: ([executable] + arguments).joined(separator: " "), status: exitCode)
        }
    }
}
