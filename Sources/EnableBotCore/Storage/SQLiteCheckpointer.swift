import Foundation
import Logging
import ServiceLifecycle

/// Keeps SQLite's WAL checkpoints (and their fsyncs, ~10 ms each on ordinary disks) off the ack path, and the WAL
/// file bounded.
///
/// SQLite normally checkpoints inside whichever commit crosses 1,000 WAL pages, stalling that request and every
/// one queued behind it on the single writer. Here the writer's automatic checkpoints are turned off, and a second
/// connection on its own thread runs PASSIVE checkpoints (which never block the writer) every `interval`: small
/// frequent checkpoints keep each fsync short (measured: 1 s is far worse than 100 ms).
///
/// A PASSIVE checkpoint cannot finish while the writer keeps appending, and SQLite only starts the WAL over once a
/// checkpoint has finished, so under sustained load the file would grow without end (500 MB in a 20-second
/// benchmark). Past `walLimitBytes` one checkpoint runs on the writer's own connection, where nothing can append
/// meanwhile: it copies the frames the passive ones have not reached yet (20–50 ms here, once per
/// `walLimitBytes` written), the next commit starts the WAL over, and `journal_size_limit` trims the file back.
public struct SQLiteCheckpointer: Service {
    let database: any Database
    let path: String
    let logger: Logger
    var interval: Duration = .milliseconds(100)
    var walLimitBytes = 256 << 20

    public init(database: any Database, path: String, logger: Logger) {
        self.database = database
        self.path = path
        self.logger = logger
    }

    public func run() async throws {
        let checkpointer = try SQLiteDatabase(path: path, logger: logger)
        let pageSize = try await database.queryFirst("PRAGMA page_size")?.int("page_size") ?? 4096
        let frameLimit = walLimitBytes / (pageSize + 24)
        _ = try await database.run("PRAGMA wal_autocheckpoint = 0", [])
        _ = try await database.run("PRAGMA journal_size_limit = \(walLimitBytes)", [])
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }  // shutting down: the last checkpoint happens when SQLite closes
                do {
                    let frames = try await checkpointer.queryFirst("PRAGMA wal_checkpoint(PASSIVE)")?.int("log") ?? 0
                    if frames > frameLimit {
                        // On the writer's own connection nothing can append meanwhile, so this one finishes.
                        let start = ContinuousClock.now
                        let row = try await database.queryFirst("PRAGMA wal_checkpoint(PASSIVE)")
                        let completed = try row.map { try $0.int("log") == $0.int("checkpointed") } ?? false
                        logger.info("WAL over its limit: checkpointed in full", metadata: [
                            "wal_frames": "\(frames)", "completed": "\(completed)",
                            "duration_ms": "\((ContinuousClock.now - start).milliseconds)",
                        ])
                    }
                } catch {
                    logger.warning("WAL checkpoint failed", metadata: ["error": "\(error)"])
                }
            }
        }
        // Back to SQLite's own checkpoints for whatever runs after us on this connection.
        _ = try? await database.run("PRAGMA wal_autocheckpoint = 1000", [])
        _ = try? await checkpointer.run("PRAGMA wal_checkpoint(PASSIVE)", [])
        await checkpointer.shutdown()
    }
}
