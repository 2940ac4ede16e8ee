import EnableBotCore
import Foundation
import NIOConcurrencyHelpers

/// Group commit for the ack path: claims arriving while a transaction is being written wait for the next one,
/// which stores all of them at once. An idle server writes each claim immediately (no added delay); a busy one
/// pays one commit per batch instead of one per event. Every caller still gets its answer only once its claim
/// is durably stored (or the batch failed, and Slack's retry is processed later).
///
/// Each result is handed out from the database's own thread as soon as its batch is committed. One batch is written
/// per turn with the connection: the job worker's writes queued meanwhile go next (`BlockingPool`'s turns), so a flood
/// of acknowledgements cannot stop the answering, and claims arriving meanwhile make the next batch larger.
final class ClaimBatcher: Sendable {
    private typealias Waiter = CheckedContinuation<Int64?, any Error>

    private struct State {
        var pending: [(claim: EventClaim, waiter: Waiter)] = []
        /// The batch being written, in the order its results come back.
        var inFlight: [Waiter] = []
        var writing = false
    }

    private let events: ProcessedEvents
    private let maxBatch: Int
    private let state = NIOLockedValueBox(State())

    init(events: ProcessedEvents, maxBatch: Int = 256) {
        self.events = events
        self.maxBatch = maxBatch
    }

    /// Claims the event and enqueues its job; nil when the event was claimed before.
    func claim(_ claim: EventClaim) async throws -> Int64? {
        try await withCheckedThrowingContinuation { waiter in
            let startWriter = state.withLockedValue { state -> Bool in
                state.pending.append((claim, waiter))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            // Immediate: the writer runs on this thread up to its first suspension (handing the batch to the
            // database thread) instead of waiting for the scheduler first.
            if startWriter { Task.immediate { await self.write() } }
        }
    }

    private func write() async {
        while true {
            do {
                let ranDry = try await events.claimAndEnqueue(
                    batches: { self.nextBatch() }, maxBatches: 1, stored: { self.stored($0) }
                )
                if ranDry { return }
            } catch {
                // The connection could not be had (the database is shutting down): nothing waiting can be stored.
                let waiters = state.withLockedValue { state -> [Waiter] in
                    let waiters = state.inFlight + state.pending.map(\.waiter)
                    state.inFlight = []
                    state.pending = []
                    state.writing = false
                    return waiters
                }
                for waiter in waiters { waiter.resume(throwing: error) }
                return
            }
        }
    }

    /// The next batch to write, or nil (and the writer stops) when nothing is waiting.
    private func nextBatch() -> [EventClaim]? {
        state.withLockedValue { state -> [EventClaim]? in
            guard !state.pending.isEmpty else {
                state.writing = false
                return nil
            }
            let batch = state.pending.prefix(maxBatch)
            state.pending.removeFirst(batch.count)
            state.inFlight = batch.map(\.waiter)
            return batch.map(\.claim)
        }
    }

    private func stored(_ results: [Result<Int64?, any Error>]) {
        let waiters = state.withLockedValue { state -> [Waiter] in
            defer { state.inFlight = [] }
            return state.inFlight
        }
        for (waiter, result) in zip(waiters, results) { waiter.resume(with: result) }
    }
}
