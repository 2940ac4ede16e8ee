import NIOConcurrencyHelpers
import NIOPosix

/// Hands out a bounded set of blocking connections and runs work on them on a private thread pool,
/// so libpq and sqlite calls never block a SwiftNIO event loop or the Swift concurrency pool.
final class BlockingPool<Connection: AnyObject>: @unchecked Sendable {
    private struct State {
        var idle: [Connection] = []
        var created = 0
        var waiters: [CheckedContinuation<UnsafeTransfer<Connection?>, any Error>] = []
        /// Served before `waiters`: work someone is waiting on right now (an acknowledgement to Slack).
        var urgentWaiters: [CheckedContinuation<UnsafeTransfer<Connection?>, any Error>] = []
        var closed = false
    }

    private let threads: NIOThreadPool
    private let state = NIOLockedValueBox(State())
    private let maxConnections: Int
    private let connect: @Sendable () throws -> Connection
    private let close: @Sendable (Connection) -> Void

    init(
        size: Int,
        connect: @escaping @Sendable () throws -> Connection,
        close: @escaping @Sendable (Connection) -> Void
    ) {
        maxConnections = max(1, size)
        threads = NIOThreadPool(numberOfThreads: maxConnections)
        threads.start()
        self.connect = connect
        self.close = close
    }

    /// Borrows a connection (opening one on a pool thread when under the limit), runs `body` with it on a
    /// pool thread, and returns it.
    /// - Parameter urgent: jump the queue of work waiting for a connection (not the work already running).
    func withConnection<T: Sendable>(urgent: Bool = false, _ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        let borrowed = try await acquire(urgent: urgent)
        let outcome: UnsafeTransfer<(Connection?, Result<T, any Error>)>
        do {
            outcome = try await threads.runIfActive {
                let connection: Connection
                do {
                    connection = try borrowed.value ?? self.connect()
                } catch {
                    return UnsafeTransfer((nil, .failure(error)))
                }
                return UnsafeTransfer((connection, Result { try body(connection) }))
            }
        } catch {
            // The thread pool is gone: give back what was borrowed.
            if let connection = borrowed.value { release(connection) } else { forgetSlot() }
            throw error
        }
        let (connection, result) = outcome.value
        if let connection { release(connection) } else { forgetSlot() }
        return try result.get()
    }

    func shutdown() async {
        let toClose: [Connection] = state.withLockedValue { state in
            state.closed = true
            let idle = state.idle
            state.idle = []
            for waiter in state.waiters + state.urgentWaiters {
                waiter.resume(throwing: DatabaseError(.connection, "database is shut down"))
            }
            state.waiters = []
            state.urgentWaiters = []
            return idle
        }
        let close = self.close
        let boxes = toClose.map(UnsafeTransfer.init)
        _ = try? await threads.runIfActive { for box in boxes { close(box.value) } }
        try? await threads.shutdownGracefully()
    }

    /// nil means "a slot is yours: open a new connection".
    private func acquire(urgent: Bool) async throws -> UnsafeTransfer<Connection?> {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<UnsafeTransfer<Connection?>, any Error>) in
            state.withLockedValue { state in
                if state.closed {
                    continuation.resume(throwing: DatabaseError(.connection, "database is shut down"))
                } else if let connection = state.idle.popLast() {
                    continuation.resume(returning: UnsafeTransfer(connection))
                } else if state.created < maxConnections {
                    state.created += 1
                    continuation.resume(returning: UnsafeTransfer(nil))
                } else if urgent {
                    state.urgentWaiters.append(continuation)
                } else {
                    state.waiters.append(continuation)
                }
            }
        }
    }

    private func release(_ connection: Connection) {
        let closeNow: Bool = state.withLockedValue { state in
            if state.closed { return true }
            if !state.urgentWaiters.isEmpty {
                state.urgentWaiters.removeFirst().resume(returning: UnsafeTransfer(connection))
            } else if !state.waiters.isEmpty {
                state.waiters.removeFirst().resume(returning: UnsafeTransfer(connection))
            } else {
                state.idle.append(connection)
            }
            return false
        }
        if closeNow { close(connection) }
    }

    private func forgetSlot() {
        state.withLockedValue { state in
            if state.waiters.isEmpty {
                state.created -= 1
            } else {
                state.waiters.removeFirst().resume(returning: UnsafeTransfer(nil))
            }
        }
    }
}

/// Moves a non-Sendable connection to the pool thread that alone uses it.
struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
