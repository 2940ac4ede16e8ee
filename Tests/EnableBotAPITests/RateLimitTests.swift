import EnableBotAPI
import EnableBotCore
import Foundation
import Testing
import TestSupport

/// The sliding window, exactly: `N` per `W` seconds admits at most `N` in any `W`-second window. Written against
/// the `RateLimiter` protocol so a shared (Redis) implementation can run the same cases.
@Suite("Rate limiter")
struct RateLimiterTests {
    static func limiters() -> [any RateLimiter] { [InMemoryRateLimiter()] }

    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    @Test("a burst of N is admitted, N+1 within the window is not, and a slot frees exactly W after its admission")
    func burst() async throws {
        for limiter in Self.limiters() {
            let key = [RateLimitKey("tenant:T1", RateLimitSpec(limit: 5, windowSeconds: 60))]
            for _ in 0..<5 { #expect(try await limiter.admit(key, at: Self.at(0)) == .admitted) }
            #expect(try await limiter.admit(key, at: Self.at(0)) == .limited(key: "tenant:T1", retryAfter: 60))
            #expect(try await limiter.admit(key, at: Self.at(59.999)).isAdmitted == false)
            // The whole burst leaves the window at 60 s: five more, not six.
            for _ in 0..<5 { #expect(try await limiter.admit(key, at: Self.at(60)).isAdmitted) }
            #expect(try await limiter.admit(key, at: Self.at(60)).isAdmitted == false)
        }
    }

    /// Where token buckets and GCRA admit up to 2N: N at the end of one minute, N more at the start of the next.
    @Test("no 60-second window ever holds more than N admissions (the 2N boundary case)")
    func boundary() async throws {
        for limiter in Self.limiters() {
            let key = [RateLimitKey("tenant:T1", RateLimitSpec(limit: 10, windowSeconds: 60))]
            for i in 0..<10 { #expect(try await limiter.admit(key, at: Self.at(50 + Double(i) * 0.1)).isAdmitted) }
            // 61 s after the start nothing has left the window that began at 50 s… until 110 s.
            for t in [61.0, 70, 100, 109.8] { #expect(try await limiter.admit(key, at: Self.at(t)).isAdmitted == false, "at \(t)") }
            #expect(try await limiter.admit(key, at: Self.at(110)).isAdmitted)
            #expect(try await limiter.admit(key, at: Self.at(110.05)).isAdmitted == false)
            #expect(try await limiter.admit(key, at: Self.at(110.1)).isAdmitted)
        }
    }

    @Test("a steady stream: admissions in every window of a long run never exceed N")
    func steadyStream() async throws {
        for limiter in Self.limiters() {
            let spec = RateLimitSpec(limit: 7, windowSeconds: 10)
            var admitted: [Double] = []
            var t = 0.0
            while t < 100 {
                if try await limiter.admit([RateLimitKey("k", spec)], at: Self.at(t)).isAdmitted { admitted.append(t) }
                t += 0.25
            }
            for start in admitted {
                #expect(admitted.filter { $0 >= start && $0 < start + 10 }.count <= 7)
            }
            // …and it is not stingier than that: 7 per 10 s over 100 s.
            #expect(admitted.count == 70)
        }
    }

    @Test("tenants are independent; a refusal by the global limit does not use up the tenant's allowance")
    func tenantsAndGlobal() async throws {
        for limiter in Self.limiters() {
            let global = RateLimitKey("global", RateLimitSpec(limit: 4, windowSeconds: 60))
            let a = RateLimitKey("tenant:A", RateLimitSpec(limit: 2, windowSeconds: 60))
            let b = RateLimitKey("tenant:B", RateLimitSpec(limit: 3, windowSeconds: 60))
            #expect(try await limiter.admit([a, global], at: Self.at(0)).isAdmitted)
            #expect(try await limiter.admit([a, global], at: Self.at(0)).isAdmitted)
            #expect(try await limiter.admit([a, global], at: Self.at(1)) == .limited(key: "tenant:A", retryAfter: 59))
            #expect(try await limiter.admit([b, global], at: Self.at(2)).isAdmitted)
            #expect(try await limiter.admit([b, global], at: Self.at(2)).isAdmitted)
            #expect(try await limiter.admit([b, global], at: Self.at(3)) == .limited(key: "global", retryAfter: 57))
            // After the global window frees up, B still has its third slot (the refusal did not count).
            #expect(try await limiter.admit([b, global], at: Self.at(60)).isAdmitted)
            #expect(try await limiter.admit([b, global], at: Self.at(61)) == .limited(key: "tenant:B", retryAfter: 1))
        }
    }

    @Test("one notice per key and window")
    func notices() async throws {
        for limiter in Self.limiters() {
            #expect(try await limiter.claimNotice("T1:U1", window: 60, at: Self.at(0)))
            #expect(try await limiter.claimNotice("T1:U1", window: 60, at: Self.at(59)) == false)
            #expect(try await limiter.claimNotice("T1:U2", window: 60, at: Self.at(1)))
            #expect(try await limiter.claimNotice("T1:U1", window: 60, at: Self.at(60)))
        }
    }
}

@Suite("Rate limits in the event flow")
struct RateLimitFlowTests {
    @Test("over the tenant's limit: no model call, counted, audited, one ephemeral notice; another tenant is unaffected",
          arguments: TestDatabaseKind.allCases)
    func limited(kind: TestDatabaseKind) async throws {
        let clock = TestClock(Date())
        let harness = try await APIHarness.make(kind)
        try await harness.runtime.installations.updateSettings(
            tenantID: "T1", settings: TenantSettings(rateLimit: RateLimitSpec(limit: 3, windowSeconds: 60)))
        let dependencies = harness.dependencies { $0.now = clock.function }
        try await harness.run(dependencies) { client in
            func send(_ body: [UInt8]) async throws {
                let response = try await client.postEvent(
                    body, headers: SlackRequests.headers(body: body, timestamp: Int(clock.now.timeIntervalSince1970)))
                #expect(response.status == .ok)
            }
            for i in 0..<6 { try await send(SlackRequests.mention(eventID: "EvRL\(i)", ts: "500.\(i)")) }
            await harness.slack.waitForCalls("chat.postEphemeral")
            await harness.slack.waitForCalls("chat.postMessage", count: 3)
            try await send(SlackRequests.mention(eventID: "EvRL-T2", team: "T2", ts: "600.1"))
            await harness.slack.waitForCalls("chat.postMessage", count: 4)
            try await Task.sleep(for: .milliseconds(300))
            #expect(harness.llm.calls.count == 4)
            #expect(harness.slack.calls("chat.postEphemeral").count == 1)

            // A minute later the window has room again.
            clock.advance(by: 61)
            try await send(SlackRequests.mention(eventID: "EvRL-later", ts: "700.1"))
            await harness.slack.waitForCalls("chat.postMessage", count: 5)
        }
        #expect(harness.llm.calls.count == 5)
        let notice = try #require(harness.slack.calls("chat.postEphemeral").first)
        #expect(notice.fields["user"] == "U1")
        #expect(notice.fields["channel"] == "C1")
        #expect(notice.bearerToken == harness.tenant("T1").botToken)
        let replies = harness.slack.calls("chat.postMessage")
        #expect(replies.filter { $0.bearerToken == harness.tenant("T2").botToken }.count == 1)
        #expect(try await harness.runtime.usage.today(tenantID: "T1").rateLimited == 3)
        #expect(try await harness.runtime.auditLog.recent(tenantID: "T1", action: "rate_limited").count == 3)
        #expect(try await harness.runtime.jobs.count(status: .done) == 8)
        harness.expectNoSecretsLogged()
        await harness.shutdown()
    }

    @Test("the global limit caps every tenant together")
    func global() async throws {
        let harness = try await APIHarness.make(.sqlite, configure: { $0.rateLimitGlobal = RateLimitSpec(limit: 2, windowSeconds: 60) })
        try await harness.run { client in
            for (i, team) in ["T1", "T2", "T1", "T2"].enumerated() {
                _ = try await client.postEvent(SlackRequests.mention(eventID: "EvG\(i)", team: team, ts: "800.\(i)"))
            }
            await harness.slack.waitForCalls("chat.postEphemeral", count: 2)
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(harness.llm.calls.count == 2)
        #expect(harness.slack.calls("chat.postMessage").count == 2)
        await harness.shutdown()
    }
}
