import EnableBotCore
import Foundation
import Logging
import ServiceLifecycle

/// Keeps SQLite's WAL checkpoints (and their fsyncs, ~10 ms each on ordinary disks) off the ack path. SQLite
/// normally checkpoints inside whichever commit crosses 1,000 WAL pages, stalling that request and every one queued
/// behind it on the single writer. Here the writer's automatic checkpoints are turned off, and a second connection
/// on its own thread runs PASSIVE checkpoints (which never block the writer) ten times a second: each fsync can still slow
/// concurrent writes on the same file system, and small frequent checkpoints keep those stalls short (measured: 3 s is far worse).
struct SQLiteCheckpointer: Service {
    let database: any Database
    let path: String
    let logger: Logger
    var interval: Duration = .milliseconds(100)

    func run() async throws {
        let checkpointer = try SQLiteDatabase(path: path, logger: logger)
        try await database.run("PRAGMA wal_autocheckpoint = 0", [])
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }  // shutting down: the last checkpoint happens when SQLite closes
                do { _ = try await checkpointer.run("PRAGMA wal_checkpoint(PASSIVE)", []) } catch {
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
