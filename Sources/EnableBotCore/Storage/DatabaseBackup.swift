import Foundation

/// `enablebot backup`: a consistent copy of the database taken while the services keep writing.
public enum DatabaseBackup {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// What PostgreSQL operators use instead when `pg_dump` is not at hand.
    public static let postgresAdvice = """
        PostgreSQL backups are pg_dump (a logical copy: pg_dump --format=custom "$DATABASE_URL" -f FILE, restored with \
        pg_restore) or the server's continuous archiving for point-in-time recovery (pg_basebackup + WAL archive, or \
        your provider's snapshots)
        """

    /// SQLite: `VACUUM INTO` writes a compacted copy from one read transaction, so it is consistent however many
    /// commits land meanwhile (WAL lets them). Refuses a `path` that exists.
    public static func sqlite(_ database: SQLiteDatabase, to path: String) async throws {
        try refuseExisting(path)
        try await database.query("VACUUM INTO $1", [.text(path)])
    }

    /// PostgreSQL: `pg_dump --format=custom`, the password handed over in the environment rather than on the command
    /// line (where `ps` shows it). `extraArguments` narrow the dump (tests dump one schema).
    public static func postgres(url: String, to path: String, pgDump: String, extraArguments: [String] = []) throws {
        try refuseExisting(path)
        var environment = ProcessInfo.processInfo.environment
        var connection = url
        if var components = URLComponents(string: url), let password = components.password {
            environment["PGPASSWORD"] = password
            components.password = nil
            connection = components.string ?? url
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: pgDump)
        process.arguments = ["--format=custom", "--no-owner", "--file", path, "--dbname", connection] + extraArguments
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw Failure("pg_dump failed (exit \(process.terminationStatus)): \(message.split(separator: "\n").first ?? "")")
        }
    }

    /// The first `name` on `PATH`, if any.
    public static func executable(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        for directory in (path ?? "").split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    private static func refuseExisting(_ path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw Failure("\(path) exists; a backup never overwrites a file, name a new one")
        }
    }
}
