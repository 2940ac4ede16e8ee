/// What `WriteBatcher` and `ReadCoalescer` share, kept inside their `Mutex`: the calls waiting for the next batch,
/// and whether a task is working through them. The first call to find no one working starts that task; the task
/// takes batch after batch until none is waiting, and then stops.
struct PendingBatches<Entry> {
    private var pending: [Entry] = []
    private var working = false

    /// Queues `entry`; true when no task is working through the batches, and the caller must start one.
    mutating func add(_ entry: Entry) -> Bool {
        pending.append(entry)
        guard !working else { return false }
        working = true
        return true
    }

    /// The next batch of at most `limit`, oldest first, or nil when nothing is waiting (the working task stops).
    mutating func next(limit: Int) -> [Entry]? {
        guard !pending.isEmpty else {
            working = false
            return nil
        }
        let batch = Array(pending.prefix(limit))
        pending.removeFirst(batch.count)
        return batch
    }

    /// Everything waiting, which the working task, stopping, must answer.
    mutating func removeAll() -> [Entry] {
        defer {
            pending = []
            working = false
        }
        return pending
    }
}
