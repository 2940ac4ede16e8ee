import NIOConcurrencyHelpers
import ServiceLifecycle

/// Opened once the database is ready (migrations applied, earlier versions' jobs upgraded). The server waits for
/// that through Hummingbird's `beforeServerStarts`; background services that read the database (the job worker,
/// token refresh) wait here, since a service group starts every service at once.
public final class StartupGate: Sendable {
    private struct State {
        var open = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    public func open() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until the gate opens; false when the service group shut down (or the task was cancelled) first.
    public func wait() async -> Bool {
        let id = state.withLockedValue { state -> Int in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await cancelWhenGracefulShutdown { [state] in
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLockedValue { state -> Bool in
                        if state.open || Task.isCancelled { return true }
                        state.waiters[id] = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                state.withLockedValue { $0.waiters.removeValue(forKey: id) }?.resume()
            }
        }
        return state.withLockedValue { $0.open } && !Task.isCancelled
    }
}
