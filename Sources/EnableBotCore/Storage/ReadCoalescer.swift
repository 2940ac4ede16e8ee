import Synchronization

/// One statement for many concurrent point reads of one kind: the job worker reads the installation of every job it
/// starts, hundreds at a time under load. A read arriving while another is in flight waits for it and then goes with
/// everything else that arrived meanwhile, in one statement over all their keys; an idle database reads each key at
/// once, with no added delay. Every caller gets rows read after its call began, as a read of its own would.
public final class ReadCoalescer<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// Reads `keys` (distinct) and returns what it found by key; keys it did not find are left out.
    public typealias Load = @Sendable (_ keys: [Key]) async throws -> [Key: Value]

    private typealias Waiter = CheckedContinuation<Value?, any Error>

    private let maxBatch: Int
    private let load: Load
    private let state = Mutex(PendingBatches<(key: Key, waiter: Waiter)>())

    public init(maxBatch: Int = 256, load: @escaping Load) {
        self.maxBatch = max(1, maxBatch)
        self.load = load
    }

    /// The value stored under `key` (nil when there is none), read with its batch. Refuses to start in a cancelled
    /// task, as every storage call does.
    public func value(for key: Key) async throws -> Value? {
        try Task.checkCancellation()
        return try await withCheckedThrowingContinuation { waiter in
            let startLoader = state.withLock { $0.add((key, waiter)) }
            // Immediate: the first read of an idle coalescer starts on this thread, without a wait for the scheduler.
            if startLoader { Task.immediate { await self.loadBatches() } }
        }
    }

    private func loadBatches() async {
        while let batch = state.withLock({ $0.next(limit: maxBatch) }) {
            var keys: [Key] = []
            var seen = Set<Key>()
            for entry in batch where seen.insert(entry.key).inserted { keys.append(entry.key) }
            do {
                let found = try await load(keys)
                for entry in batch { entry.waiter.resume(returning: found[entry.key]) }
            } catch {
                for entry in batch { entry.waiter.resume(throwing: error) }
            }
        }
    }
}
