import EnableBotCore
import Foundation
import NIOConcurrencyHelpers

/// Group commit for the ack path: claims arriving while a transaction is being written wait for the next one,
/// which stores all of them at once. An idle server writes each claim immediately (no added delay); a busy one
/// pays one commit per batch instead of one per event. Every caller still gets its answer only once its claim
/// is durably stored (or the batch failed, and Slack's retry is processed later).
final class ClaimBatcher: Sendable {
    private struct Pending {
        var claim: EventClaim
        var continuation: CheckedContinuation<Int64?, any Error>
    }

    private struct State {
        var pending: [Pending] = []
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
        try await withCheckedThrowingContinuation { continuation in
            let startWriter = state.withLockedValue { state -> Bool in
                state.pending.append(Pending(claim: claim, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            if startWriter { Task { await self.writeBatches() } }
        }
    }

    private func writeBatches() async {
        while true {
            let batch = state.withLockedValue { state -> [Pending] in
                let batch = Array(state.pending.prefix(maxBatch))
                state.pending.removeFirst(batch.count)
                if batch.isEmpty { state.writing = false }
                return batch
            }
            if batch.isEmpty { return }
            do {
                let ids = try await events.claimAndEnqueue(batch.map(\.claim))
                for (pending, id) in zip(batch, ids) { pending.continuation.resume(returning: id) }
            } catch where batch.count > 1 {
                // One bad claim must not fail its neighbours: store them one by one.
                for pending in batch {
                    do {
                        pending.continuation.resume(returning: try await events.claimAndEnqueue([pending.claim]).first ?? nil)
                    } catch {
                        pending.continuation.resume(throwing: error)
                    }
                }
            } catch {
                for pending in batch { pending.continuation.resume(throwing: error) }
            }
        }
    }
}
