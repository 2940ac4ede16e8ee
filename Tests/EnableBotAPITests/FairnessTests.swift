import EnableBotAPI
import EnableBotCore
import Foundation
import Testing
import TestSupport

/// One workspace's burst must not hold up another workspace's single mention: a tenant holds at most
/// `MAX_INFLIGHT_PER_TENANT` jobs at once, so the others' jobs are claimed as soon as they arrive.
@Suite("Fairness between workspaces", .timeLimit(.minutes(2)))
struct FairnessTests {
    @Test("a burst of 200 mentions in one workspace does not queue another workspace's mention behind it",
          arguments: TestDatabaseKind.allCases)
    func burstDoesNotStarveOthers(kind: TestDatabaseKind) async throws {
        try await withAPIHarness(kind, configure: { $0.rateLimitPerTenant = RateLimitSpec(limit: 100_000, windowSeconds: 60) }) { harness in
            // A second per answer: the burst drains at four a second, far slower than the test sends it.
            harness.llm.always(.delay(.seconds(1)))
            let dependencies = harness.dependencies {
                $0.worker = JobWorkerConfiguration(
                    concurrency: 8, perTenant: 4, lease: 30, pollInterval: .milliseconds(100), drainTimeout: .milliseconds(300),
                    baseBackoff: 0.1
                )
            }
            try await harness.run(dependencies) { client in
                for index in 0..<200 {
                    let body = SlackRequests.mention(eventID: "EvBurst\(index)", ts: "1800000000.\(String(format: "%06d", index))")
                    #expect(try await client.postEvent(body).status == .ok)
                }
                let quietTS = "1900000000.000001"
                let burstAnsweredBefore = harness.slack.calls("chat.postMessage").count
                #expect(try await client.postEvent(
                    SlackRequests.mention(eventID: "EvQuiet", team: "T2", channel: "C2", ts: quietTS)
                ).status == .ok)

                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline,
                      !harness.slack.calls("chat.postMessage").contains(where: { $0.fields["thread_ts"] == quietTS }) {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let replies = harness.slack.calls("chat.postMessage")
                let burstAnswered = replies.filter { $0.fields["channel"] == "C1" }.count - burstAnsweredBefore
                #expect(replies.contains { $0.fields["thread_ts"] == quietTS }, "the quiet workspace got no answer")
                // Without the cap its mention waits for the whole backlog (at eight a second, 20 s and more). With it,
                // the quiet workspace's job is claimed in the next free slot: a wave or two of the burst at most.
                #expect(burstAnswered < 40, "burst replies between the quiet workspace's mention and its answer: \(burstAnswered)")
                #expect(harness.llm.maxInFlight <= 8)
            }
        }
    }
}
