import EnableBotAPI
import EnableBotCore
import Foundation
import Testing
import TestSupport

/// Every `RateLimiter` the suite runs against. Redis cases use the test Redis with a key prefix of their own,
/// so cases running in parallel never share a counter.
enum LimiterKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory
    case redis

    var description: String { rawValue }

    /// Runs `body` with a fresh limiter of this kind, then closes what it opened.
    func with(_ body: (any RateLimiter) async throws -> Void) async throws {
        switch self {
        case .memory:
            try await body(InMemoryRateLimiter())
        case .redis:
            try await withStack { stack in
                try await body(RedisRateLimiter(client: stack.redis(), keyPrefix: TestRedis.uniquePrefix()))
            }
        }
    }
}

/// The sliding window, exactly: `N` per `W` seconds admits at most `N` in any `W`-second window. Written against
/// the `RateLimiter` protocol and run over every implementation, so they cannot drift apart.
@Suite("Rate limiter")
struct RateLimiterTests {

    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    @Test("a burst of N is admitted, N+1 within the window is not, and a slot frees exactly W after its admission",
          arguments: LimiterKind.allCases)
    func burst(kind: LimiterKind) async throws {
        try await kind.with { limiter async throws in
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
    @Test("no 60-second window ever holds more than N admissions (the 2N boundary case)",
          arguments: LimiterKind.allCases)
    func boundary(kind: LimiterKind) async throws {
        try await kind.with { limiter async throws in
            let key = [RateLimitKey("tenant:T1", RateLimitSpec(limit: 10, windowSeconds: 60))]
            for i in 0..<10 { #expect(try await limiter.admit(key, at: Self.at(50 + Double(i) * 0.1)).isAdmitted) }
            // 61 s after the start nothing has left the window that began at 50 s… until 110 s.
            for t in [61.0, 70, 100, 109.8] { #expect(try await limiter.admit(key, at: Self.at(t)).isAdmitted == false, "at \(t)") }
            #expect(try await limiter.admit(key, at: Self.at(110)).isAdmitted)
            #expect(try await limiter.admit(key, at: Self.at(110.05)).isAdmitted == false)
            #expect(try await limiter.admit(key, at: Self.at(110.1)).isAdmitted)
        }
    }

    @Test("a steady stream: admissions in every window of a long run never exceed N",
          arguments: LimiterKind.allCases)
    func steadyStream(kind: LimiterKind) async throws {
        try await kind.with { limiter async throws in
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

    @Test("tenants are independent; a refusal by the global limit does not use up the tenant's allowance",
          arguments: LimiterKind.allCases)
    func tenantsAndGlobal(kind: LimiterKind) async throws {
        try await kind.with { limiter async throws in
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

    @Test("one notice per key and window",
          arguments: LimiterKind.allCases)
    func notices(kind: LimiterKind) async throws {
        try await kind.with { limiter async throws in
            #expect(try await limiter.claimNotice("T1:U1", window: 60, at: Self.at(0)))
            #expect(try await limiter.claimNotice("T1:U1", window: 60, at: Self.at(59)) == false)
            #expect(try await limiter.claimNotice("T1:U2", window: 60, at: Self.at(1)))
            #expect(try await limiter.claimNotice("T1:U1", window: 60, at: Self.at(60)))
        }
    }

    @Test("a refusal by any one of several keys counts in none of them",
          arguments: LimiterKind.allCases)
    func allOrNothing(kind: LimiterKind) async throws {
        try await kind.with { limiter async throws in
            let user = RateLimitKey("user:U1", RateLimitSpec(limit: 1, windowSeconds: 10))
            let tenant = RateLimitKey("tenant:A", RateLimitSpec(limit: 3, windowSeconds: 60))
            let global = RateLimitKey("global", RateLimitSpec(limit: 3, windowSeconds: 60))
            #expect(try await limiter.admit([tenant, user, global], at: Self.at(0)).isAdmitted)
            // Refused by the user key, which comes second: the tenant and global keys must not count these.
            for t in [1.0, 2, 3] {
                #expect(try await limiter.admit([tenant, user, global], at: Self.at(t)) == .limited(key: "user:U1", retryAfter: 10 - t))
            }
            #expect(try await limiter.admit([tenant, global], at: Self.at(4)).isAdmitted)
            #expect(try await limiter.admit([tenant, global], at: Self.at(5)).isAdmitted)
            #expect(try await limiter.admit([tenant, global], at: Self.at(6)) == .limited(key: "tenant:A", retryAfter: 54))
        }
    }

    /// Random arrivals over three tenants and a global key, decided exactly as a plain list-of-times model does.
    @Test("random traffic over several keys: every decision matches a reference model; no window exceeds its limit",
          arguments: LimiterKind.allCases)
    func matchesReferenceModel(kind: LimiterKind) async throws {
        let specs = [
            "tenant:A": RateLimitSpec(limit: 4, windowSeconds: 5), "tenant:B": RateLimitSpec(limit: 2, windowSeconds: 1),
            "tenant:C": RateLimitSpec(limit: 6, windowSeconds: 10), "global": RateLimitSpec(limit: 8, windowSeconds: 5),
        ]
        try await kind.with { limiter async throws in
            var random = SplitMix64(seed: 0x5EED_1234)
            var model = ReferenceLimiter()
            var ms: Int64 = 0
            for _ in 0..<600 {
                // Bursts (same millisecond), short gaps, gaps of exactly a window (the boundary), pauses longer than one.
                ms += [0, 0, 1, 37, 250, 1_000, 5_000, 11_000][Int(random.next() % 8)]
                let tenant = ["tenant:A", "tenant:B", "tenant:C"][Int(random.next() % 3)]
                let keys = [RateLimitKey(tenant, specs[tenant]!), RateLimitKey("global", specs["global"]!)]
                let at = Self.at(Double(ms) / 1000)
                let expected = model.admit(keys, atMS: ms)
                let actual = try await limiter.admit(keys, at: at)
                switch (expected, actual) {
                case (.admitted, .admitted): break
                case (.limited(let k1, let r1), .limited(let k2, let r2)) where k1 == k2 && abs(r1 - r2) < 0.0005: break
                default: Issue.record("at \(ms) ms \(tenant): expected \(expected), got \(actual)"); return
                }
            }
            #expect(model.admissions["global"]!.count > 100)
            for (name, times) in model.admissions {
                let spec = specs[name]!
                for start in times {
                    #expect(times.filter { $0 >= start && $0 < start + Int64(spec.windowSeconds) * 1000 }.count <= spec.limit)
                }
            }
        }
    }
}

/// The sliding window as plainly as it can be said: keep every admission time, count those in (t - W, t].
struct ReferenceLimiter {
    var admissions: [String: [Int64]] = [:]

    mutating func admit(_ keys: [RateLimitKey], atMS t: Int64) -> RateLimitDecision {
        for key in keys {
            let window = Int64(key.spec.windowSeconds) * 1000
            let live = (admissions[key.name] ?? []).filter { $0 > t - window }
            if live.count >= key.spec.limit {
                let freesAt = live[live.count - key.spec.limit] + window
                return .limited(key: key.name, retryAfter: Double(freesAt - t) / 1000)
            }
        }
        for key in keys { admissions[key.name, default: []].append(t) }
        return .admitted
    }
}

@Suite("Rate limits in the event flow")
struct RateLimitFlowTests {
    @Test("over the tenant's limit: no model call, counted, audited, one ephemeral notice; another tenant is unaffected",
          arguments: TestDatabaseKind.allCases)
    func limited(kind: TestDatabaseKind) async throws {
        let clock = TestClock(Date())
        try await withAPIHarness(kind) { harness in
            try await harness.stores.installations.updateSettings(
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
            #expect(try await harness.stores.usage.today(tenantID: "T1").rateLimited == 3)
            #expect(try await harness.stores.auditLog.recent(tenantID: "T1", action: "rate_limited").count == 3)
            #expect(try await harness.stores.jobs.count(status: .done) == 8)
            harness.expectNoSecretsLogged()
        }
    }

    @Test("the global limit caps every tenant together")
    func global() async throws {
        try await withAPIHarness(.sqlite, configure: { $0.rateLimitGlobal = RateLimitSpec(limit: 2, windowSeconds: 60) }) { harness in
            try await harness.run { client in
                for (i, team) in ["T1", "T2", "T1", "T2"].enumerated() {
                    _ = try await client.postEvent(SlackRequests.mention(eventID: "EvG\(i)", team: team, ts: "800.\(i)"))
                }
                await harness.slack.waitForCalls("chat.postEphemeral", count: 2)
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(harness.llm.calls.count == 2)
            #expect(harness.slack.calls("chat.postMessage").count == 2)
        }
    }
}
