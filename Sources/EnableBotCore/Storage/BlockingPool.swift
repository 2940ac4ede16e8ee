import Foundation

/// Runs work on a bounded set of blocking connections, each owned by its own thread, so libpq, hiredis and sqlite
/// calls never block a SwiftNIO event loop or the Swift concurrency pool.
///
/// Callers queue closures; a free connection thread takes the next one and runs it at once. The connection is never
/// handed to the waiting task itself: on a busy server that task would first have to be scheduled on the
/// concurrency pool, behind every request in flight, while the connection sat idle (SQLite has only one writer,
/// so that idle time was the writer's).
final class BlockingPool<Connection: AnyObject>: @unchecked Sendable {
    /// A queued closure: `run` on a connection thread (connecting first when the thread has none), or `fail` when
    /// the pool shuts down before it ran.
    private struct Work {
        let run: (inout Connection?) -> Void
        let fail: (any Error) -> Void
    }

    /// A first-in first-out queue that does not shift its elements on every removal.
    private struct Queue {
        private var items: [Work] = []
        private var head = 0

        var count: Int { items.count - head }
        var isEmpty: Bool { head == items.count }

        mutating func append(_ work: Work) { items.append(work) }

        mutating func removeFirst() -> Work {
            let work = items[head]
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024, head * 2 >= items.count {
                items.removeFirst(head)
                head = 0
            }
            return work
        }

        mutating func removeAll() -> [Work] {
            defer { items = []; head = 0 }
            return Array(items[head...])
        }
    }

    private let condition = NSCondition()
    // Guarded by `condition`:
    private var normal = Queue()
    /// Run before `normal`: work someone is waiting on right now (an acknowledgement to Slack).
    private var urgent = Queue()
    /// How many of `normal` still run before the next urgent work: those that were waiting when the last urgent work
    /// started. Urgent work jumps the queue but cannot starve it: under a flood of acknowledgements on SQLite's one
    /// connection, the job worker got one write per batch of claims and answered a tenth of what it does otherwise.
    private var turnsOwed = 0
    private var closed = false
    private var running = 0
    private var stopped: CheckedContinuation<Void, Never>?

    private let connect: @Sendable () throws -> Connection
    private let close: @Sendable (Connection) -> Void

    init(
        size: Int,
        connect: @escaping @Sendable () throws -> Connection,
        close: @escaping @Sendable (Connection) -> Void
    ) {
        self.connect = connect
        self.close = close
        let threads = max(1, size)
        running = threads
        for _ in 0..<threads {
            let thread = Thread { [self] in
                nameCurrentThread("db-connection")
                serve()
            }
            thread.start()
        }
    }

    /// Runs `body` on a connection thread with its connection (opened first if the thread has none or the last
    /// attempt failed).
    /// - Parameter urgent: jump the queue of work waiting for a connection (not the work already running).
    func withConnection<T: Sendable>(urgent: Bool = false, _ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let connect = self.connect
            let work = Work(
                run: { connection in
                    let result: Result<T, any Error>
                    do {
                        let open = try connection ?? connect()
                        connection = open
                        result = Result { try body(open) }
                    } catch {
                        result = .failure(error)
                    }
                    continuation.resume(with: result)
                },
                fail: { continuation.resume(throwing: $0) }
            )
            condition.lock()
            if closed {
                condition.unlock()
                continuation.resume(throwing: DatabaseError(.connection, "database is shut down"))
                return
            }
            if urgent { self.urgent.append(work) } else { normal.append(work) }
            condition.signal()
            condition.unlock()
        }
    }

    /// Fails the work still queued, lets the work running finish, then closes every connection.
    func shutdown() async {
        let pending = condition.withLock {
            closed = true
            condition.broadcast()
            return urgent.removeAll() + normal.removeAll()
        }
        for work in pending { work.fail(DatabaseError(.connection, "database is shut down")) }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            if running == 0 {
                condition.unlock()
                continuation.resume()
            } else {
                stopped = continuation
                condition.unlock()
            }
        }
    }

    /// One connection thread: runs queued work until the pool shuts down, then closes its connection.
    private func serve() {
        var connection: Connection?
        while let work = next() { work.run(&connection) }
        if let connection { close(connection) }
        condition.lock()
        running -= 1
        let done = running == 0 ? stopped : nil
        if done != nil { stopped = nil }
        condition.unlock()
        done?.resume()
    }

    private func next() -> Work? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if turnsOwed > 0, !normal.isEmpty {
                turnsOwed -= 1
                return normal.removeFirst()
            }
            if !urgent.isEmpty {
                turnsOwed = normal.count
                return urgent.removeFirst()
            }
            if !normal.isEmpty { return normal.removeFirst() }
            if closed { return nil }
            condition.wait()
        }
    }
}

/// Names the calling thread as `top -H` and `/proc/PID/task/*/comm` show it (at most 15 bytes). Foundation's
/// `Thread.name`, set before `start()`, never reaches the kernel on Linux: such threads kept the name of the thread
/// that started them (`com.apple.root.default-qos`), and a busy connection thread could not be told from the pool.
func nameCurrentThread(_ name: String) {
    #if os(Linux)
    // pthread_setname_np is hidden behind _GNU_SOURCE in Glibc's module and prctl is variadic: the kernel's own file.
    let descriptor = open("/proc/thread-self/comm", O_WRONLY)
    guard descriptor >= 0 else { return }
    _ = Array(name.utf8.prefix(15)).withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    close(descriptor)
    #endif
}
