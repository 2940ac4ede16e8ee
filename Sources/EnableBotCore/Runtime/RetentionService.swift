import Foundation
import Logging
import ServiceLifecycle

/// Runs `Retention` every `interval` inside a service, so `processed_events`, `jobs` and chat memory stay small
/// without a cron job. Every replica runs it; the retention lock lets one at a time do the work.
public struct RetentionService: Service, CustomStringConvertible {
    public let description = "retention"
    private let retention: Retention
    private let interval: Duration
    private let logger: Logger

    public init(retention: Retention, interval: Duration, logger: Logger) {
        self.retention = retention
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                // Wait first: a fleet restarting together does not all start with a full pass.
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                let started = ContinuousClock.now
                do {
                    let report = try await retention.run()
                    let removed = report.memoryExpired + report.archivePurged + report.processedEvents + report.doneJobs
                        + report.assistantThreads
                    if !report.complete {
                        logger.debug("retention: another instance holds the lock")
                    } else if removed > 0 {
                        logger.info("retention run", metadata: [
                            "chat_memory": "\(report.memoryExpired)", "archive": "\(report.archivePurged)",
                            "processed_events": "\(report.processedEvents)", "jobs": "\(report.doneJobs)",
                            "assistant_threads": "\(report.assistantThreads)",
                            "duration_ms": "\((ContinuousClock.now - started).milliseconds)",
                        ])
                    }
                } catch {
                    logger.error("retention run failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
