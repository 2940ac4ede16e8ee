import Synchronization

/// Group commit for one kind of write that many tasks make at once (the job worker's writes on PostgreSQL: hundreds
/// of answers in flight each save a reply and finish). A write arriving while a batch is being stored waits for the
/// next batch, which `store` writes in one statement; an idle database stores each write at once, with no added
/// delay. Each caller hears its own write's outcome only once its batch is committed.
///
/// One batch per turn with a connection, so the acknowledgements' claims (`withUrgentConnection`) go in between.
public final class WriteBatcher<Item: Sendable>: Sendable {
    /// Stores `items` on the connection, all or nothing; returns, per item in order, whether it changed its row.
    public typealias Store = @Sendable (_ items: [Item], _ connection: any SQLConnection) throws -> [Bool]

    private typealias Waiter = CheckedContinuation<Bool, any Error>

    private struct State {
        var pending: [(item: Item, waiter: Waiter)] = []
        var writing = false
    }

    private let database: any Database
    private let maxBatch: Int
    private let store: Store
    private let state = Mutex(State())

    public init(database: any Database, maxBatch: Int = 256, store: @escaping Store) {
        self.database = database
        self.maxBatch = max(1, maxBatch)
        self.store = store
    }

    /// Writes `item` with its batch; returns whether it changed its row. Refuses to start in a cancelled task, as
    /// every storage call does.
    public func write(_ item: Item) async throws -> Bool {
        try Task.checkCancellation()
        return try await withCheckedThrowingContinuation { waiter in
            let startWriter = state.withLock { state -> Bool in
                state.pending.append((item, waiter))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            // Immediate: the writer runs on this thread up to its first suspension (handing the batch to the
            // database's thread) instead of waiting for the scheduler first.
            if startWriter { Task.immediate { await self.writeBatches() } }
        }
    }

    private func writeBatches() async {
        while let batch = nextBatch() {
            let items = batch.map(\.item)
            let store = self.store
            do {
                let changed = try await database.withConnection { try Self.stored(items, on: $0, by: store) }
                for (entry, changed) in zip(batch, changed) { entry.waiter.resume(returning: changed) }
            } catch where batch.count > 1 {
                // One by one, so that one bad write does not fail its neighbours.
                for entry in batch {
                    do {
                        let item = entry.item
                        let changed = try await database.withConnection { try Self.stored([item], on: $0, by: store) }
                        entry.waiter.resume(returning: changed[0])
                    } catch {
                        entry.waiter.resume(throwing: error)
                    }
                }
            } catch {
                batch[0].waiter.resume(throwing: error)
            }
        }
    }

    /// `store`'s outcomes, one per item (anything else is an error, not a waiter left hanging).
    private static func stored(_ items: [Item], on connection: any SQLConnection, by store: Store) throws -> [Bool] {
        let changed = try store(items, connection)
        guard changed.count == items.count else {
            throw DatabaseError(.query, "a batch of \(items.count) writes reported \(changed.count) outcomes")
        }
        return changed
    }

    /// The next batch, or nil (and the writer stops) when nothing is waiting.
    private func nextBatch() -> [(item: Item, waiter: Waiter)]? {
        state.withLock { state in
            guard !state.pending.isEmpty else {
                state.writing = false
                return nil
            }
            let batch = Array(state.pending.prefix(maxBatch))
            state.pending.removeFirst(batch.count)
            return batch
        }
    }
}
