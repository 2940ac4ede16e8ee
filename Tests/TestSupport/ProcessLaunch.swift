import Foundation
import Synchronization

private let processLaunch = Mutex(())

extension Process {
    /// `run()`, one launch at a time across the test process. Foundation's `Process.run` crashed once (a bad read in
    /// the memcpy of its launch) while the parallel suites were starting several processes at the same moment.
    public func runSerialized() throws {
        try processLaunch.withLock { _ in try run() }
    }
}
