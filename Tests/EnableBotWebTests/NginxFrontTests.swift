import EnableBotCore
import Foundation
import NIOConcurrencyHelpers
import Testing
import TestSupport

/// Issue 12: Debian's nginx (config/nginx.conf, rendered by scripts/render-nginx.sh) in front of two enablebot-web and
/// two enablebot-api processes on one PostgreSQL schema and the shared Redis. Everything a client does goes through
/// nginx; which replica answered is read from nginx's access log (`upstream`).
@Suite("nginx in front of 2 web + 2 api replicas", .serialized, .timeLimit(.minutes(5)))
struct NginxFrontTests {
    static let secret = "nginx-front-signing-secret"
    static let password = "nginx front operator password"

    /// Everything one deployment runs: fakes, database, the four services and nginx.
    struct Deployment: Sendable {
        let slack: FakeSlack
        let llm: FakeLLM
        let http: CurlHTTPClient
        let stores: Stores
        let nginx: NginxFront
        let webPorts: [Int]
        let apiPorts: [Int]
        let apis: [ServiceProcess]
        var events: SignedEvents { SignedEvents(secret: NginxFrontTests.secret, url: nginx.baseURL + "/slack/events") }

        func web(_ index: Int) -> String { "http://127.0.0.1:\(webPorts[index])" }
        func upstream(web index: Int) -> String { "127.0.0.1:\(webPorts[index])" }
        func upstream(api index: Int) -> String { "127.0.0.1:\(apiPorts[index])" }

        /// chat.postMessage calls into `channel`, by the thread they answer.
        func answers(in channel: String) -> [String] {
            slack.calls("chat.postMessage").filter { $0.fields["channel"] == channel }.compactMap { $0.fields["thread_ts"] }
        }

        func modelCalls(marked marker: String) -> Int {
            llm.calls.filter { call in call.messages.contains { $0.role == "user" && $0.content.contains(marker) } }.count
        }
    }

    @Test("through nginx: install across web replicas, retried event answered once, exact tenant limit, dashboard on both, SIGKILL of an API replica mid-burst")
    func throughNginx() async throws {
        try await withStack { stack in
            let slack = try await stack.slack()
            let llm = try await stack.llm()
            let http = stack.http()
            let database = try await stack.database(.postgres)  // migrated here once; the services find it done
            let key = EncryptionKey.generate(id: "nginx1")
            let stores = Stores(database: database.database, cipher: try TokenCipher(keys: [key]))
            try await stores.keys.register(keyIDs: [key.id])

            let duplicateTenant = uniqueTenant("TDUP")
            let limitedTenant = uniqueTenant("TLIM")
            let crashTenant = uniqueTenant("TCRA")
            try await seedInstallation(stores, tenant: duplicateTenant)
            try await seedInstallation(stores, tenant: limitedTenant)
            // The operator's ceiling for this workspace: the crash burst is about leases, not the 5/minute limit.
            try await seedInstallation(stores, tenant: crashTenant, settings: TenantSettings(rateLimitCeiling: RateLimitSpec(limit: 100_000, windowSeconds: 60)))

            var environment = [
                "DATABASE_URL": database.url, "REDIS_URL": try TestRedis.url(), "DATABASE_POOL_SIZE": "6",
                "ENCRYPTION_KEYS": "\(key.id):\(Data(key.bytes).base64EncodedString())",
                "SLACK_SIGNING_SECRET": Self.secret, "ADMIN_PASSWORD": Self.password,
                "SLACK_CLIENT_ID": slack.clientID, "SLACK_CLIENT_SECRET": slack.clientSecret,
                "SLACK_API_BASE_URL": slack.apiBaseURL, "SLACK_AUTHORIZE_URL": slack.authorizeURL,
                "SLACK_OIDC_AUTHORIZE_URL": slack.openIDAuthorizeURL,
                "LLM_BASE_URL": llm.baseURL, "LLM_API_KEY": "sk-nginx", "TRUSTED_PROXIES": "127.0.0.1/32",
                "RATE_LIMIT_PER_TENANT": "5/minute", "RATE_LIMIT_GLOBAL": "1000000/minute", "LOG_LEVEL": "warning",
                "LLM_STREAMING": "false",  // the checks count whole replies (chat.postMessage)
            ]
            let deployment = try await Self.startDeployment(
                stack: stack, slack: slack, llm: llm, http: http, stores: stores, environment: &environment
            )

            try await Self.installAcrossReplicas(deployment)
            try await Self.retriedEventAnsweredOnce(deployment, tenant: duplicateTenant)
            try await Self.exactTenantLimit(deployment, tenant: limitedTenant)
            try await Self.dashboardOnBothReplicas(deployment)
            // Last: it leaves one API replica dead.
            try await Self.apiReplicaKilledMidBurst(deployment, tenant: crashTenant)
        }
    }

    /// Not asserted, printed for the issue's note: events per second answered through nginx (posted by 8 concurrent
    /// senders, counted until the fake Slack has every answer) with one and with two API replicas on PostgreSQL,
    /// the fake model answering at once. The senders, nginx, PostgreSQL, Redis, the fakes and the replicas share
    /// this machine's cores, so the figures are the whole loop's, not one replica's ceiling.
    /// Opt-in (ENABLEBOT_NGINX_MEASURE=1): two 2,000-event bursts load the machine enough to upset the timing-sensitive
    /// tests that `swift test --parallel` runs beside it (crash resume, fairness, fast acknowledgements).
    @Test(
        "measure: events/s answered through nginx with 1 and 2 API replicas (printed, not asserted)",
        .enabled(if: ProcessInfo.processInfo.environment["ENABLEBOT_NGINX_MEASURE"] == "1", "set ENABLEBOT_NGINX_MEASURE=1 to measure")
    )
    func throughput() async throws {
        try await withStack { stack in
            let slack = try await stack.slack()
            let llm = try await stack.llm()
            let http = stack.http()
            let database = try await stack.database(.postgres)
            let key = EncryptionKey.generate(id: "nginxb1")
            let stores = Stores(database: database.database, cipher: try TokenCipher(keys: [key]))
            try await stores.keys.register(keyIDs: [key.id])
            let tenants = [uniqueTenant("TBONE"), uniqueTenant("TBTWO")]
            for tenant in tenants { try await seedInstallation(stores, tenant: tenant) }
            let replicas = ReplicaSet(environment: [
                "DATABASE_URL": database.url, "REDIS_URL": try TestRedis.url(),
                "ENCRYPTION_KEYS": "\(key.id):\(Data(key.bytes).base64EncodedString())", "SLACK_SIGNING_SECRET": Self.secret,
                "SLACK_API_BASE_URL": slack.apiBaseURL, "LLM_BASE_URL": llm.baseURL, "LLM_API_KEY": "sk-nginx",
                "RATE_LIMIT_PER_TENANT": "1000000/minute", "RATE_LIMIT_GLOBAL": "10000000/minute", "LOG_LEVEL": "warning",
                "LLM_STREAMING": "false",
            ])
            let apiPorts = [try FreePort.next(), try FreePort.next()]
            let noWeb = try FreePort.next()  // the template wants a web upstream; nothing is asked of it here
            let batch = 2_000

            _ = try await replicas.start("enablebot-api", label: "api-a", port: apiPorts[0], in: stack, http: http)
            let one = try await NginxFront.start(web: [noWeb], api: [apiPorts[0]], in: stack, http: http)
            let single = try await Self.measure(slack: slack, http: http, nginx: one, tenant: tenants[0], channel: "CONE", batch: batch)

            _ = try await replicas.start("enablebot-api", label: "api-b", port: apiPorts[1], in: stack, http: http)
            let two = try await NginxFront.start(web: [noWeb], api: apiPorts, in: stack, http: http)
            let double = try await Self.measure(slack: slack, http: http, nginx: two, tenant: tenants[1], channel: "CTWO", batch: batch)
            let spread = Dictionary(grouping: two.hops().filter { $0.message == "POST /slack/events" }, by: \.upstream).mapValues(\.count)

            for (label, result) in [("1 api replica ", single), ("2 api replicas", double)] {
                print("nginx throughput, \(label): \(batch) events, acknowledged \(result.acknowledged) in \(result.ackSeconds) s, answered \(result.answered) in \(result.answerSeconds) s = \(Int((Double(result.answered) / result.answerSeconds).rounded())) events/s answered, \(result.duplicates) duplicates")
            }
            print("nginx throughput, 2 api replicas: events per replica \(spread.sorted { $0.key < $1.key })")
            #expect(single.answered == batch && double.answered == batch, "every event of the batches answered")
        }
    }

    struct Measurement {
        var acknowledged: Int
        var ackSeconds: Double
        var answered: Int
        var answerSeconds: Double
        var duplicates: Int
    }

    /// Posts `batch` events with 8 concurrent senders through `nginx` (after a short warm-up) and times them until
    /// every answer reached the fake Slack.
    static func measure(slack: FakeSlack, http: CurlHTTPClient, nginx: NginxFront, tenant: String, channel: String, batch: Int) async throws -> Measurement {
        let events = SignedEvents(secret: Self.secret, url: nginx.baseURL + "/slack/events")
        for index in 0..<40 {
            _ = try await http.send(events.mention(eventID: "EvWarm\(channel)\(index)", team: tenant, channel: channel + "W", ts: "1800000400.\(String(format: "%06d", index))", text: "warm"))
        }
        _ = await eventually(within: .seconds(30)) { slack.calls("chat.postMessage").filter { $0.fields["channel"] == channel + "W" }.count >= 40 }

        let next = NIOLockedValueBox(0)
        let acknowledged = NIOLockedValueBox(0)
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    while true {
                        let index = next.withLockedValue { value -> Int? in
                            guard value < batch else { return nil }
                            defer { value += 1 }
                            return value
                        }
                        guard let index else { return }
                        let request = events.mention(
                            eventID: "EvBench\(channel)\(index)", team: tenant, channel: channel,
                            ts: "1800000500.\(String(format: "%06d", index))", text: "bench \(index)"
                        )
                        if let status = try? await http.send(request).status, (200..<300).contains(status) {
                            acknowledged.withLockedValue { $0 += 1 }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let ackTime = ContinuousClock.now - start
        func answers() -> [String] {
            slack.calls("chat.postMessage").filter { $0.fields["channel"] == channel }.compactMap { $0.fields["thread_ts"] }
        }
        _ = await eventually(within: .seconds(120), every: .milliseconds(20)) { Set(answers()).count >= batch }
        let answerTime = ContinuousClock.now - start
        let all = answers()
        func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
        return Measurement(
            acknowledged: acknowledged.withLockedValue { $0 }, ackSeconds: (seconds(ackTime) * 100).rounded() / 100,
            answered: Set(all).count, answerSeconds: (seconds(answerTime) * 100).rounded() / 100, duplicates: all.count - Set(all).count
        )
    }

    /// nginx first (its port goes into SLACK_REDIRECT_URI), on ports reserved for the four replicas, then the replicas.
    static func startDeployment(
        stack: TestStack, slack: FakeSlack, llm: FakeLLM, http: CurlHTTPClient, stores: Stores, environment: inout [String: String]
    ) async throws -> Deployment {
        let webPorts = [try FreePort.next(), try FreePort.next()]
        let apiPorts = [try FreePort.next(), try FreePort.next()]
        let nginx = try await NginxFront.start(web: webPorts, api: apiPorts, in: stack, http: http)
        environment["SLACK_REDIRECT_URI"] = nginx.baseURL + "/slack/oauth/callback"
        let replicas = ReplicaSet(environment: environment)
        async let webA = replicas.start("enablebot-web", label: "web-a", port: webPorts[0], in: stack, http: http)
        async let webB = replicas.start("enablebot-web", label: "web-b", port: webPorts[1], in: stack, http: http)
        async let apiA = replicas.start("enablebot-api", label: "api-a", port: apiPorts[0], in: stack, http: http)
        async let apiB = replicas.start("enablebot-api", label: "api-b", port: apiPorts[1], in: stack, http: http)
        _ = try await (webA, webB)
        let apis = try await [apiA, apiB]
        // Every replica answers through nginx too.
        for path in ["/health/web", "/health/api"] {
            #expect(try await http.send(HTTPClientRequest(url: nginx.baseURL + path)).status == 200, "\(path) through nginx")
        }
        return Deployment(
            slack: slack, llm: llm, http: http, stores: stores, nginx: nginx, webPorts: webPorts, apiPorts: apiPorts, apis: apis
        )
    }

    // MARK: 1. install begun on one web replica, finished on the other

    static func installAcrossReplicas(_ d: Deployment) async throws {
        // a) Deterministic: the install page from replica A (its port), the callback on replica B's port.
        let browser = TestBrowser(baseURL: d.nginx.baseURL, http: d.http)
        let page = try await browser.get(d.web(0) + "/slack/install")
        #expect(page.status == 200, "step 1: install page on web replica A")
        let link = try #require(WebChecks.href(page.body, id: "add-to-slack"), "step 1: Add to Slack link")
        #expect(try WebChecks.query(of: link)["redirect_uri"] == d.nginx.baseURL + "/slack/oauth/callback")
        let state = try #require(WebChecks.state(in: link))
        #expect(browser.cookies["eb_install_state"] == state)
        let workspace = FakeSlack.Workspace(teamID: uniqueTenant("TINSA"), teamName: "Across A to B")
        let done = try await browser.get(d.web(1) + "/slack/oauth/callback?code=\(d.slack.issueInstallCode(workspace))&state=\(state)")
        #expect(done.status == 200, "step 1: callback on web replica B finishes what replica A began: \(done.body.prefix(300))")
        #expect(try await d.stores.installations.find(tenantID: workspace.teamID!)?.status == .active)

        // b) Through nginx only: the install page and its callback, until nginx sent them to different replicas
        //    (round-robin does so at once, unless something else came between).
        var crossed: (String, String)?
        for attempt in 0..<6 where crossed == nil {
            let browser = TestBrowser(baseURL: d.nginx.baseURL, http: d.http)
            let mark = d.nginx.hops().count
            let state = try await WebChecks.startInstall(browser)
            let workspace = FakeSlack.Workspace(teamID: uniqueTenant("TINSN"), teamName: "Through nginx \(attempt)")
            let done = try await browser.get("/slack/oauth/callback?code=\(d.slack.issueInstallCode(workspace))&state=\(state)")
            #expect(done.status == 200, "step 1: install through nginx, attempt \(attempt): \(done.body.prefix(300))")
            #expect(try await d.stores.installations.find(tenantID: workspace.teamID!)?.status == .active)
            let hops = await d.nginx.hops(after: mark, count: 2)
            let begun = hops.first { $0.message == "GET /slack/install" }?.upstream
            let finished = hops.first { $0.message == "GET /slack/oauth/callback" }?.upstream
            if let begun, let finished, begun != finished { crossed = (begun, finished) }
        }
        let pair = try #require(crossed, "step 1: nginx never sent an install page and its callback to different web replicas")
        #expect(Set([pair.0, pair.1]) == Set([d.upstream(web: 0), d.upstream(web: 1)]))
    }

    // MARK: 2. a retried event is answered once

    static func retriedEventAnsweredOnce(_ d: Deployment, tenant: String) async throws {
        let channel = "CDUP"
        let mark = d.nginx.hops().count
        let first = try await d.http.send(d.events.mention(eventID: "EvDup1", team: tenant, channel: channel, ts: "1800000100.000001", text: "dup-marker once"))
        #expect(first.status == 200, "step 2: first delivery")
        // Slack's retries, until one of them lands on the other API replica than the first delivery (least_conn
        // alternates between idle replicas, so usually the first retry does).
        var upstreams: [String] = []
        for retry in 1...3 {
            let again = try await d.http.send(d.events.mention(
                eventID: "EvDup1", team: tenant, channel: channel, ts: "1800000100.000001", text: "dup-marker once", retry: retry
            ))
            #expect(again.status == 200, "step 2: retry \(retry) acknowledged")
            upstreams = await d.nginx.hops(after: mark, count: retry + 1).map(\.upstream)
            if Set(upstreams).count > 1 { break }
        }
        #expect(Set(upstreams).count == 2, "step 2: the deliveries reached both API replicas: \(upstreams)")
        _ = await eventually(within: .seconds(20)) { !d.answers(in: channel).isEmpty }
        try await Task.sleep(for: .seconds(2))  // a second answer would show up now
        #expect(d.answers(in: channel) == ["1800000100.000001"], "step 2: exactly one chat.postMessage for the event")
        #expect(d.modelCalls(marked: "dup-marker") == 1, "step 2: one model call")
    }

    // MARK: 3. the tenant limit is exact across replicas

    static func exactTenantLimit(_ d: Deployment, tenant: String) async throws {
        let channel = "CLIM"
        let mark = d.nginx.hops().count
        for index in 0..<8 {
            let response = try await d.http.send(d.events.mention(
                eventID: "EvLim\(index)", team: tenant, channel: channel, ts: "1800000200.\(String(format: "%06d", index))",
                text: "limit-marker \(index)"
            ))
            #expect(response.status == 200, "step 3: event \(index) acknowledged")
        }
        let upstreams = await d.nginx.hops(after: mark, count: 8).map(\.upstream)
        #expect(Set(upstreams) == Set([d.upstream(api: 0), d.upstream(api: 1)]), "step 3: both API replicas took events: \(upstreams)")

        let limited = await eventually(within: .seconds(20)) {
            let limitedSoFar = (try? await d.stores.usage.today(tenantID: tenant).rateLimited) ?? 0
            return d.answers(in: channel).count >= 5 && limitedSoFar >= 3
        }
        #expect(limited, "step 3: 5 answered and 3 limited in time")
        try await Task.sleep(for: .seconds(2))  // a sixth model call would show up now
        let usage = try await d.stores.usage.today(tenantID: tenant)
        #expect(d.modelCalls(marked: "limit-marker") == 5, "step 3: exactly 5 model calls")
        #expect(d.answers(in: channel).count == 5, "step 3: exactly 5 answers")
        #expect(usage.rateLimited == 3, "step 3: exactly 3 rate-limited, counted \(usage.rateLimited)")
        #expect(!d.slack.calls("chat.postEphemeral").filter { $0.fields["channel"] == channel }.isEmpty, "step 3: the limited user was told")
    }

    // MARK: 5. the dashboard works on whichever web replica answers

    static func dashboardOnBothReplicas(_ d: Deployment) async throws {
        let browser = TestBrowser(baseURL: d.nginx.baseURL, http: d.http)
        let mark = d.nginx.hops().count
        let form = try await browser.get("/login")
        #expect(form.status == 200, "step 5: login form through nginx")
        let csrf = try #require(form.field("csrf_token"))
        let login = try await browser.post("/login", [("csrf_token", csrf), ("password", Self.password)])
        #expect(login.status == 303 && login.location == "/dashboard", "step 5: operator login through nginx: \(login.status)")
        let session = try #require(browser.cookies["eb_session"], "step 5: a session cookie")

        let tenant = try #require(try await d.stores.installations.all().first?.tenantID)
        let paths = ["/dashboard", "/dashboard/system", "/dashboard/audit", "/dashboard/tenants/\(tenant)"]
        let loginMark = d.nginx.hops().count
        for round in 0..<3 {
            for path in paths {
                let page = try await browser.get(path)
                #expect(page.status == 200, "step 5: GET \(path) (round \(round)) through nginx: \(page.status)")
            }
        }
        #expect(browser.cookies["eb_session"] == session, "step 5: the same session cookie throughout")
        let loginHops = await d.nginx.hops(after: mark, count: 2)
        let dashboardHops = await d.nginx.hops(after: loginMark, count: paths.count * 3)
        #expect(dashboardHops.allSatisfy { $0.status == "200" })
        #expect(
            Set(dashboardHops.map(\.upstream)) == Set([d.upstream(web: 0), d.upstream(web: 1)]),
            "step 5: both web replicas served the dashboard: \(dashboardHops.map(\.upstream))"
        )
        print("nginx step 5: login form from \(loginHops.first?.upstream ?? "?"), login POST to \(loginHops.dropFirst().first?.upstream ?? "?")")

        // Sign out on replica A; the same cookie is then refused by B, by A and through nginx.
        let token = try #require(try await browser.get(d.web(0) + "/dashboard").field("csrf_token"))
        let out = try await browser.post(d.web(0) + "/logout", [("csrf_token", token)])
        #expect(out.status == 303 && out.location == "/login", "step 5: sign out on web replica A")
        browser.setCookie("eb_session", session)  // a stolen or stale copy of the cookie
        for url in [d.web(1) + "/dashboard", d.web(0) + "/dashboard", "/dashboard", "/dashboard"] {
            let page = try await browser.get(url)
            #expect(page.status == 303 && page.location == "/login", "step 5: after sign-out \(url) → \(page.status) \(page.location ?? "")")
        }
    }

    // MARK: 4. SIGKILL of one API replica during a burst

    static func apiReplicaKilledMidBurst(_ d: Deployment, tenant: String) async throws {
        let channel = "CCRASH"
        let total = 40
        // Slow enough that the kill lands while the victim's jobs wait for the model, not between a post and its
        // commit (that window is counted, not closed: `reply_reposts_uncertain_total`), even on a loaded machine.
        d.llm.always(.delay(.seconds(5)))
        defer { d.llm.always(nil) }
        @Sendable func ts(_ index: Int) -> String { "1800000300.\(String(format: "%06d", index))" }
        @Sendable func request(_ index: Int, retry: Int? = nil) -> HTTPClientRequest {
            d.events.mention(eventID: "EvCrash\(index)", team: tenant, channel: channel, ts: ts(index), text: "crash-marker \(index)", retry: retry)
        }

        struct Tally { var next = 0; var acknowledged = 0; var firstStatus: [Int: Int] = [:] }
        let tally = NIOLockedValueBox(Tally())
        let victim = d.apis[0]
        let killedAt = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    while true {
                        let index = tally.withLockedValue { tally -> Int? in
                            guard tally.next < total else { return nil }
                            defer { tally.next += 1 }
                            return tally.next
                        }
                        guard let index else { return }
                        let status = (try? await d.http.send(request(index)))?.status ?? -1
                        let kill = tally.withLockedValue { tally -> Bool in
                            tally.firstStatus[index] = status
                            if (200..<300).contains(status) { tally.acknowledged += 1 }
                            return tally.acknowledged == 12
                        }
                        if kill {
                            victim.signal(SIGKILL)
                            killedAt.withLockedValue { $0 = .now }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        _ = try await victim.waitForExit(within: .seconds(10))
        let firstStatus = tally.withLockedValue { $0.firstStatus }
        let acknowledgedFirst = Set(firstStatus.filter { (200..<300).contains($0.value) }.keys)

        // What nginx could not deliver, Slack sends again with X-Slack-Retry-Num.
        var acknowledged = acknowledgedFirst
        var retried = 0
        for index in (0..<total).filter({ !acknowledgedFirst.contains($0) }) {
            for retry in 1...3 {
                retried += 1
                if let status = try? await d.http.send(request(index, retry: retry)).status, (200..<300).contains(status) {
                    acknowledged.insert(index)
                    break
                }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        let expected = Set(acknowledged.map(ts))
        let answeredAll = await eventually(within: .seconds(60), every: .milliseconds(100)) {
            expected.isSubset(of: Set(d.answers(in: channel)))
        }
        let resumed = killedAt.withLockedValue { $0 }.map { ContinuousClock.now - $0 }
        try await Task.sleep(for: .seconds(2))  // a late duplicate would show up now
        let answers = d.answers(in: channel)
        let duplicates = answers.count - Set(answers).count
        #expect(answeredAll, "step 4: every acknowledged event answered; missing \(expected.subtracting(answers).sorted())")
        #expect(duplicates == 0, "step 4: no event answered twice")
        #expect(Set(answers).isSubset(of: Set((0..<total).map(ts))))
        #expect(acknowledged.count == total, "step 4: every event acknowledged at last (\(acknowledged.count) of \(total))")
        let statuses = Dictionary(grouping: firstStatus.values, by: { $0 }).mapValues(\.count)
        print("""
            nginx step 4 (SIGKILL of api replica A after 12 acks, model 5 s): \(total) events, first delivery statuses \(statuses.sorted { $0.key < $1.key }), \
            acknowledged at once \(acknowledgedFirst.count), re-sent \(retried) times, acknowledged in the end \(acknowledged.count), \
            answered \(Set(answers).count), chat.postMessage calls \(answers.count), duplicates \(duplicates), \
            all answered \(resumed.map { "\($0)" } ?? "?") after the kill
            """)
    }
}
