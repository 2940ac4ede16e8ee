import EnableBotCore
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import ServiceLifecycle

/// How the worker pulls and retries jobs.
public struct JobWorkerConfiguration: Sendable {
    /// Jobs run at the same time in this process (`MAX_WORKERS`): a ceiling, not a pool of threads. A running job
    /// is mostly a socket waiting for the model, so hundreds cost little memory.
    public var concurrency: Int
    /// Jobs one tenant may hold at once (`MAX_INFLIGHT_PER_TENANT`), so one workspace's burst leaves slots for the
    /// others.
    public var perTenant: Int
    /// How long a claimed job stays reserved; renewed every third of it while the job runs (the heartbeat), so a job
    /// outliving its worker (a crash) is claimable again soon after, and a long job is never claimed twice.
    public var lease: TimeInterval
    /// Look for due jobs (retries, other instances' work) at least this often.
    public var pollInterval: Duration
    /// On graceful shutdown, running jobs get this long to finish before they are cancelled and handed back.
    public var drainTimeout: Duration
    /// Retry delay after the n-th failed attempt: `baseBackoff * 2^(n-1)`, at most `maxBackoff`.
    public var baseBackoff: TimeInterval
    public var maxBackoff: TimeInterval

    public init(
        concurrency: Int = 512, perTenant: Int? = nil, lease: TimeInterval = 15, pollInterval: Duration = .seconds(1),
        drainTimeout: Duration = .seconds(10), baseBackoff: TimeInterval = 2, maxBackoff: TimeInterval = 300
    ) {
        self.concurrency = max(1, concurrency)
        self.perTenant = max(1, min(self.concurrency, perTenant ?? Self.fairShare(of: self.concurrency)))
        self.lease = lease
        self.pollInterval = pollInterval
        self.drainTimeout = drainTimeout
        self.baseBackoff = baseBackoff
        self.maxBackoff = maxBackoff
    }

    /// The default per-tenant cap: a quarter of the slots (at least 8), so four busy workspaces cannot starve a fifth.
    public static func fairShare(of concurrency: Int) -> Int { max(8, concurrency / 4) }

    func backoff(afterAttempt attempt: Int) -> TimeInterval {
        min(maxBackoff, baseBackoff * pow(2, Double(max(0, attempt - 1))))
    }
}

/// Runs the durable jobs the ack path stores, `concurrency` at a time. A `Service`: graceful shutdown stops
/// claiming, lets running jobs finish (up to `drainTimeout`), then cancels the rest and releases their leases so
/// the next process (or another instance) does them.
public final class JobWorker: Service {
    private let queue: JobQueue
    private let configuration: JobWorkerConfiguration
    private let signal: JobSignal
    private let logger: Logger
    private let handler: @Sendable (Job) async throws -> Void
    private let startup: StartupGate
    private let state = NIOLockedValueBox(State())

    private struct State {
        var running: [Int64: Job] = [:]
        var stopping = false
    }

    /// - Parameter startup: the worker claims nothing before it opens (the schema may not be current yet).
    public init(
        queue: JobQueue, configuration: JobWorkerConfiguration, signal: JobSignal, logger: Logger,
        startup: StartupGate, handler: @escaping @Sendable (Job) async throws -> Void
    ) {
        self.startup = startup
        self.queue = queue
        self.configuration = configuration
        self.signal = signal
        self.logger = logger
        self.handler = handler
    }

    /// Jobs running right now.
    public var runningCount: Int { state.withLockedValue { $0.running.count } }

    public func run() async throws {
        guard await startup.wait() else { return }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.tick() }
                group.addTask { await self.renewLeases() }
                for await _ in signal.wakeUps {
                    if state.withLockedValue({ $0.stopping }) || Task.isCancelled { break }
                    await claimAndStart(in: &group)
                }
                await drain()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.state.withLockedValue { $0.stopping = true }
            self.signal.notify()
        }
        signal.finish()
    }

    /// Claims while slots are free and the queue has due jobs, never more than a tenant's cap: each claim takes at
    /// most one cap's worth and leaves out the tenants already at theirs, so a tenant with 2,000 queued mentions
    /// fills its share and the next claim reaches the others'.
    private func claimAndStart(in group: inout DiscardingTaskGroup) async {
        while true {
            let (free, saturated) = state.withLockedValue { state -> (Int, [String]) in
                var perTenant: [String: Int] = [:]
                for job in state.running.values { perTenant[job.tenantID, default: 0] += 1 }
                let saturated = perTenant.filter { $0.value >= configuration.perTenant }.map(\.key)
                return (configuration.concurrency - state.running.count, saturated)
            }
            guard free > 0, !state.withLockedValue({ $0.stopping }) else { return }
            let batch = min(free, configuration.perTenant)
            let jobs: [Job]
            do {
                jobs = try await queue.claim(limit: batch, lease: configuration.lease, excludingTenants: saturated)
            } catch {
                logger.error("cannot claim jobs", metadata: ["error": "\(error)"])
                return
            }
            for job in jobs {
                state.withLockedValue { $0.running[job.id] = job }
                group.addTask { await self.execute(job) }
            }
            if jobs.count < batch { return }
        }
    }

    private func execute(_ job: Job) async {
        defer {
            state.withLockedValue { _ = $0.running.removeValue(forKey: job.id) }
            signal.notify()
        }
        let start = ContinuousClock.now
        do {
            try await handler(job)
            Counter(label: "jobs_total", dimensions: [("kind", job.kind), ("outcome", "done")]).increment()
            Timer(label: "job_duration_seconds", dimensions: [("kind", job.kind)])
                .recordNanoseconds((ContinuousClock.now - start).milliseconds * 1_000_000)
        } catch where error is CancellationError || Task.isCancelled {
            // Stopping: hand the job back untouched for the next process.
            // This task is cancelled, and storage calls refuse to start in a cancelled task: release from a fresh one.
            let queue = self.queue
            do { try await Task { try await queue.release(job) }.value } catch {
                logger.error("cannot release job; it runs again when its lease ends", metadata: [
                    "job_id": "\(job.id)", "error": "\(error)",
                ])
            }
            logger.info("job handed back on shutdown", metadata: ["job_id": "\(job.id)", "tenant_id": "\(job.tenantID)"])
        } catch let error as LeaseLost {
            // Another worker holds the job now (this one was too slow to renew): it is theirs to finish.
            Counter(label: "jobs_total", dimensions: [("kind", job.kind), ("outcome", "lease_lost")]).increment()
            logger.warning("job lease lost; leaving the job to its new holder", metadata: [
                "job_id": "\(job.id)", "tenant_id": "\(job.tenantID)", "error": "\(error)",
            ])
        } catch {
            let retryAfter = configuration.backoff(afterAttempt: job.attempts)
            let status = try? await queue.fail(job, error: String(describing: error).prefix(500).description, retryAfter: retryAfter)
            Counter(label: "jobs_total", dimensions: [("kind", job.kind), ("outcome", status == .dead ? "dead" : "retry")]).increment()
            let metadata: Logger.Metadata = [
                "job_id": "\(job.id)", "tenant_id": "\(job.tenantID)", "attempt": "\(job.attempts)", "error": "\(error)",
            ]
            if status == .dead {
                logger.error("job failed for the last time; marked dead", metadata: metadata)
            } else {
                logger.warning("job failed; retrying", metadata: metadata.merging(["retry_in_s": "\(Int(retryAfter))"]) { $1 })
            }
        }
    }

    /// Polls for due jobs that no local enqueue announced: retries, other instances' work, leases left by a crash.
    /// Every tenth poll also buries jobs whose every attempt died with its worker.
    private func tick() async {
        var polls = 0
        while !Task.isCancelled {
            signal.notify()
            if polls % 10 == 0 {
                do {
                    let buried = try await queue.buryExhausted()
                    if buried > 0 { logger.error("jobs out of attempts after their workers died; marked dead", metadata: ["jobs": "\(buried)"]) }
                } catch {
                    logger.warning("cannot check for exhausted jobs", metadata: ["error": "\(error)"])
                }
            }
            polls += 1
            try? await Task.sleep(for: configuration.pollInterval)
        }
    }

    /// The heartbeat: every third of the lease, the leases of running jobs are renewed in one transaction.
    private func renewLeases() async {
        let every = Duration.milliseconds(Int64(configuration.lease * 1000 / 3))
        while !Task.isCancelled {
            try? await Task.sleep(for: every)
            let jobs = state.withLockedValue { Array($0.running.values) }
            guard !jobs.isEmpty, !Task.isCancelled else { continue }
            do {
                // A job that finished since the snapshot is no longer queued either: only the ones still running were lost.
                let lost = try await queue.renew(jobs, lease: configuration.lease)
                    .filter { id in state.withLockedValue { $0.running[id] != nil } }
                if !lost.isEmpty { logger.warning("job leases taken over", metadata: ["jobs": "\(lost)"]) }
            } catch {
                logger.error("cannot renew job leases", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Waits for running jobs to finish, at most `drainTimeout`.
    private func drain() async {
        let deadline = ContinuousClock.now + configuration.drainTimeout
        while runningCount > 0, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let left = runningCount
        if left > 0 { logger.info("cancelling unfinished jobs", metadata: ["jobs": "\(left)"]) }
    }
}
