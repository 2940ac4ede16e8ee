import Synchronization

/// Group commit for one kind of write that many tasks make at once: the ack path's claims, and the job worker's
/// writes (hundreds of answers in flight each save a reply and finish). A write arriving while a batch is being stored
/// waits for the next batch, which `store` writes at once; an idle database stores each write immediately, with no
/// added delay. Each caller hears its own write's outcome only once its batch is committed.
///
/// The batch is made up on the database's thread when a connection is free, so everything that arrived meanwhile goes
/// in it, and each outcome is handed out from that thread as soon as its batch is committed (no hop through the
/// scheduler first). One batch per turn with a connection: the other work waiting for it goes next (`BlockingPool`'s
/// turns). An `urgent` batcher (the acknowledgements, which Slack is waiting for) jumps the queue of work waiting for a
/// connection.
public final class WriteBatcher<Item: Sendable, Outcome: Sendable>: Sendable {
    /// Stores `items` on the connection, all or nothing; returns one outcome per item, in order.
    public typealias Store = @Sendable (_ items: [Item], _ connection: any SQLConnection) throws -> [Outcome]

    private typealias Waiter = CheckedContinuation<Outcome, any Error>

    private let database: any Database
    private let urgent: Bool
    private let maxBatch: Int
    private let store: Store
    private let state = Mutex(PendingBatches<(item: Item, waiter: Waiter)>())

    public init(database: any Database, urgent: Bool = false, maxBatch: Int = 256, store: @escaping Store) {
        self.database = database
        self.urgent = urgent
        self.maxBatch = max(1, maxBatch)
        self.store = store
    }

    /// Writes `item` with its batch and returns its outcome. Refuses to start in a cancelled task, as every storage
    /// call does.
    public func write(_ item: Item) async throws -> Outcome {
        try Task.checkCancellation()
        return try await withCheckedThrowingContinuation { waiter in
            let startWriter = state.withLock { $0.add((item, waiter)) }
            // Immediate: the writer runs on this thread up to its first suspension (handing its turn to the
            // database's thread) instead of waiting for the scheduler first.
            if startWriter { Task.immediate { await self.writeBatches() } }
        }
    }

    private func writeBatches() async {
        while true {
            do {
                let turn: @Sendable (any SQLConnection) throws -> Bool = { connection in
                    guard let batch = self.nextBatch() else { return true }
                    self.commit(batch, on: connection)
                    return false
                }
                let ranDry = try await urgent ? database.withUrgentConnection(turn) : database.withConnection(turn)
                if ranDry { return }
            } catch {
                // No connection could be had (the database is shutting down): nothing waiting can be stored.
                for entry in state.withLock({ $0.removeAll() }) { entry.waiter.resume(throwing: error) }
                return
            }
        }
    }

    /// Stores the batch and resumes its waiters. When the whole batch fails, its writes are stored one by one, so that
    /// one bad write does not fail its neighbours.
    private func commit(_ batch: [(item: Item, waiter: Waiter)], on connection: any SQLConnection) {
        do {
            let outcomes = try stored(batch.map(\.item), on: connection)
            for (entry, outcome) in zip(batch, outcomes) { entry.waiter.resume(returning: outcome) }
        } catch where batch.count > 1 {
            for entry in batch {
                entry.waiter.resume(with: Result { try stored([entry.item], on: connection)[0] })
            }
        } catch {
            batch[0].waiter.resume(throwing: error)
        }
    }

    /// `store`'s outcomes, one per item (anything else is an error, not a waiter left hanging).
    private func stored(_ items: [Item], on connection: any SQLConnection) throws -> [Outcome] {
        let outcomes = try store(items, connection)
        guard outcomes.count == items.count else {
            throw DatabaseError(.query, "a batch of \(items.count) writes reported \(outcomes.count) outcomes")
        }
        return outcomes
    }

    /// The next batch, or nil (and the writer stops) when nothing is waiting.
    private func nextBatch() -> [(item: Item, waiter: Waiter)]? {
        state.withLock { $0.next(limit: maxBatch) }
    }
}
