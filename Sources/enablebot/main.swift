import ArgumentParser
import EnableBotCore
import Foundation
import Logging

@main
struct EnableBotCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enablebot",
        abstract: "EnableBot administration: schema migrations, encryption keys, storage moves, tenants, retention, backups.",
        discussion: "Reads the same settings as the services (environment, or ENV_FILE=config/.env.api).",
        subcommands: [Migrate.self, Keys.self, Storage.self, Tenants.self, RetentionCommand.self, Backup.self]
    )
}

/// Settings, logging and the migrated database with its stores, shared by the subcommands.
enum CLIContext {
    static func settings() throws -> Settings {
        do {
            return try Settings.load(service: .cli)
        } catch {
            throw ValidationError(error.description)
        }
    }

    static func logger(_ settings: Settings) -> Logger {
        Logging.bootstrap(service: .cli, level: settings.logLevel, format: settings.logFormat)
        var logger = Logger(label: "enablebot-cli")
        logger.logLevel = settings.logLevel
        return logger
    }

    /// What a subcommand works with: the stores over the migrated database, and the cipher they seal with.
    struct Context {
        let stores: Stores
        let cipher: TokenCipher
        let backends: Backends
    }

    static func withStores<T>(_ body: (Context) async throws -> T) async throws -> T {
        let settings = try settings()
        let logger = logger(settings)
        let backends = try await Backends.open(settings: settings, logger: logger)
        do {
            let cipher = try TokenCipher(keys: settings.encryptionKeys)
            let stores = Stores(database: backends.database, cipher: cipher)
            try await backends.prepare(keys: stores.keys, keyIDs: settings.encryptionKeys.map(\.id), logger: logger)
            let result = try await body(Context(stores: stores, cipher: cipher, backends: backends))
            await backends.shutdown()
            return result
        } catch {
            await backends.shutdown()
            throw error
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the schema (services also do this at start).")

    func run() async throws {
        let settings = try CLIContext.settings()
        let logger = CLIContext.logger(settings)
        let database = try DatabaseFactory.open(url: settings.databaseURL, poolSize: 1, logger: logger)
        let applied = try await Migrator.migrate(database, logger: logger)
        await database.shutdown()
        print(applied.isEmpty
            ? "schema is current (version \(Migrator.latestVersion))"
            : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encryption keys for stored tokens.", subcommands: [Generate.self, Rotate.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new random key as KEYID:BASE64. Put it first in ENCRYPTION_KEYS, keep the old ones after it, then run `keys rotate`."
        )

        @Option(help: "Key id (letters, digits, - and _).") var id: String?

        func run() throws {
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyyMMdd"
            formatter.timeZone = TimeZone(identifier: "UTC")
            let keyID = id ?? "k" + formatter.string(from: Date())
            guard !keyID.isEmpty, keyID.count <= 32, keyID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw ValidationError("--id must be 1-32 letters, digits, - or _")
            }
            print(EncryptionKey.generate(id: keyID).encoded)
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-encrypt every stored secret with the active (first) key.")

        func run() async throws {
            try await CLIContext.withStores { context in
                let count = try await context.stores.installations.reencryptAll()
                try await context.stores.auditLog.record(
                    tenantID: nil, actor: "cli", action: "keys.rotate",
                    detail: "re-encrypted \(count) values with key \(context.cipher.activeKeyID)"
                )
                print("re-encrypted \(count) values with key \(context.cipher.activeKeyID)")
            }
        }
    }
}

struct Storage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Move data between databases.", subcommands: [Copy.self])

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate",
            abstract: "Copy everything from one database to another (e.g. SQLite to PostgreSQL) and verify the counts."
        )

        @Option(help: "Source DATABASE_URL, e.g. sqlite:data/enablebot.sqlite") var from: String
        @Option(help: "Target DATABASE_URL, e.g. postgres://user:pass@host:5432/db") var to: String
        @Flag(help: "Only report what would be copied.") var dryRun = false

        func run() async throws {
            let settings = try CLIContext.settings()
            let logger = CLIContext.logger(settings)
            let source = try DatabaseFactory.open(url: from, poolSize: 1, logger: logger)
            let target = try DatabaseFactory.open(url: to, poolSize: 1, logger: logger)
            defer { Task { await source.shutdown(); await target.shutdown() } }
            let reports = try await StorageCopier(source: source, target: target, logger: logger).copy(dryRun: dryRun)
            var mismatched: [String] = []
            for report in reports {
                print("\(report.table.padding(toLength: 22, withPad: " ", startingAt: 0)) source \(report.sourceRows)  target \(report.targetRows)")
                if report.targetRows < report.sourceRows { mismatched.append(report.table) }
            }
            if dryRun {
                print("dry run: nothing was written")
            } else if !mismatched.isEmpty {
                throw ValidationError("target has fewer rows than source in: \(mismatched.joined(separator: ", "))")
            } else {
                print("copied and verified")
            }
        }
    }
}

struct Tenants: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Installed workspaces.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every installation with its status (no tokens).")

        func run() async throws {
            try await CLIContext.withStores { context in
                let all = try await context.stores.installations.all()
                if all.isEmpty { print("no installations"); return }
                print("TENANT\tTEAM\tSTATUS\tINSTALLED\tMODEL\tRATE LIMIT")
                let formatter = ISO8601DateFormatter()
                for tenant in all {
                    print([tenant.tenantID, tenant.teamName, tenant.status.rawValue, formatter.string(from: tenant.installedAt),
                           tenant.settings.model ?? "-", tenant.settings.rateLimit?.description ?? "-"].joined(separator: "\t"))
                }
            }
        }
    }
}

struct RetentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "retention", abstract: "Chat memory retention.", subcommands: [Run.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Archive chat memory older than --memory-days, delete archives older than --archive-days, and drop spent bookkeeping."
        )

        @Option(help: "Days a thread's turns stay available to the model.") var memoryDays = 30
        @Option(help: "Days archived turns are kept before deletion (0 deletes instead of archiving).") var archiveDays = 90

        func validate() throws {
            guard memoryDays >= 1 else { throw ValidationError("--memory-days must be at least 1") }
            guard archiveDays >= 0 else { throw ValidationError("--archive-days must be 0 or more") }
        }

        func run() async throws {
            try await CLIContext.withStores { context in
                var policy = RetentionPolicy()
                policy.memoryDays = memoryDays
                policy.archiveDays = archiveDays
                // The same batched, locked run the API service does on its schedule.
                let report = try await Retention(database: context.backends.database, policy: policy).run()
                guard report.complete else {
                    throw ValidationError("another instance is running retention right now; try again later")
                }
                let moved = report.memoryExpired
                try await context.stores.auditLog.record(
                    tenantID: nil, actor: "cli", action: "retention.run",
                    detail: "memory \(archiveDays > 0 ? "archived" : "deleted") \(moved), archive purged \(report.archivePurged)"
                )
                print("chat memory: \(moved) turns \(archiveDays > 0 ? "archived" : "deleted"), \(report.archivePurged) archived turns deleted")
                print("bookkeeping: \(report.processedEvents) event ids, \(report.doneJobs) finished jobs, \(report.oauthStates) expired OAuth states, \(report.assistantThreads) idle assistant threads removed")
            }
        }
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the database to a new file while the services keep running.",
        discussion: """
            SQLite: VACUUM INTO PATH, a consistent compacted copy; restore by stopping the services and putting the file \
            at the DATABASE_URL path. PostgreSQL: runs pg_dump --format=custom when it is on PATH (restore with \
            pg_restore); without it, says how to back up PostgreSQL and exits non-zero.
            """
    )

    @Option(help: "The backup file to create (refused if it exists).") var to: String

    func run() async throws {
        let settings = try CLIContext.settings()
        let logger = CLIContext.logger(settings)
        let database = try DatabaseFactory.open(url: settings.databaseURL, poolSize: 1, logger: logger)
        defer { Task { await database.shutdown() } }
        do {
            if let sqlite = database as? SQLiteDatabase {
                try await Migrator.migrate(sqlite, logger: logger)
                try await DatabaseBackup.sqlite(sqlite, to: to)
            } else if let pgDump = DatabaseBackup.executable("pg_dump") {
                try DatabaseBackup.postgres(url: settings.databaseURL, to: to, pgDump: pgDump)
            } else {
                throw ValidationError("pg_dump is not on PATH. \(DatabaseBackup.postgresAdvice).")
            }
        } catch let error as DatabaseBackup.Failure {
            throw ValidationError(error.description)
        }
        print("backup written to \(to)")
    }
}
