#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock` on a file, held for the duration of a closure: how separate processes opening one SQLite
/// file take turns at what SQLite's own busy handler does not cover (switching the journal mode of a fresh file,
/// applying migrations). The kernel drops the lock when the holder exits, so a crash never leaves it held.
/// Blocks: call it only on a database thread, never on an event loop.
enum FileLock {
    static func withExclusiveLock<T>(path: String, _ body: () throws -> T) throws -> T {
        // Read-only is enough for flock, and lets another user's process share a lock file it did not create.
        let fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DatabaseError(.connection, "cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw DatabaseError(.connection, "cannot lock \(path): \(String(cString: strerror(errno)))")
            }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
