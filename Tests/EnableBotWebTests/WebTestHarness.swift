import EnableBotCore
import EnableBotWeb
import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import TestSupport

/// enablebot-web on a free loopback port over a fresh database, talking to a fake Slack, with an injected clock.
/// Built inside a `TestStack` (`stack.web(kind)`, or `withWebHarness(kind) { h in … }`), which stops the server,
/// the fake Slack, the HTTP client and the database when the test's body ends.
final class WebTestHarness: Sendable {
    let database: TestDatabase
    /// The stores over the test's database, on the harness's clock.
    let stores: Stores
    let settings: Settings
    let slack: FakeSlack
    let clock: TestClock
    let http: CurlHTTPClient
    let port: Int

    static let password = "correct horse battery staple"
    static let redirectURI = "http://localhost:8000/slack/oauth/callback"

    var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(
        database: TestDatabase, stores: Stores, settings: Settings, slack: FakeSlack, clock: TestClock, http: CurlHTTPClient, port: Int
    ) {
        self.database = database
        self.stores = stores
        self.settings = settings
        self.slack = slack
        self.clock = clock
        self.http = http
        self.port = port
    }

    /// - Parameter slackAPIBaseURL: overrides the fake's URL (an unreachable Slack).
    static func start(
        _ kind: TestDatabaseKind, in stack: TestStack, slackAPIBaseURL: String? = nil, loginAttempts: Int = 5,
        configure: (inout Settings) -> Void = { _ in }, adjust: (inout WebDependencies) -> Void = { _ in }
    ) async throws -> WebTestHarness {
        let database = try await stack.database(kind)
        let slack = try await stack.slack()
        let clock = TestClock(Date())
        var settings = Settings()
        settings.port = 0
        settings.databaseURL = database.url
        settings.encryptionKeys = [EncryptionKey.generate(id: "test1")]
        settings.slackAPIBaseURL = slackAPIBaseURL ?? slack.apiBaseURL
        settings.slackClientID = slack.clientID
        settings.slackClientSecret = slack.clientSecret
        settings.slackRedirectURI = redirectURI
        settings.slackAuthorizeURL = slack.authorizeURL
        settings.slackOIDCAuthorizeURL = slack.openIDAuthorizeURL
        settings.slackOIDCRedirectURI = "http://localhost:8000/auth/slack/callback"
        settings.adminPassword = password
        configure(&settings)
        let stores = Stores(database: database.database, cipher: try TokenCipher(keys: settings.encryptionKeys), now: clock.function)
        let http = stack.http()
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var dependencies = WebDependencies(
            backends: Backends(database: database.database), http: http, now: clock.function, loginAttempts: loginAttempts
        )
        adjust(&dependencies)
        let app = try await buildWebApplication(
            settings: settings, logger: TestLog.logger, dependencies: dependencies,
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            }
        )
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: TestLog.logger))
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        stack.onExit {
            await group.triggerGracefulShutdown()
            _ = await task.result
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            throw HarnessError.notStarted
        }
        return WebTestHarness(
            database: database, stores: stores, settings: settings, slack: slack, clock: clock, http: http, port: port
        )
    }

    /// - Parameter headers: sent with every request (say, `X-Forwarded-For` as a proxy would add it).
    func browser(headers: [(name: String, value: String)] = []) -> TestBrowser {
        TestBrowser(baseURL: baseURL, http: http, extraHeaders: headers)
    }
}

extension TestStack {
    /// enablebot-web over a fresh `kind` database and its own fake Slack, all stopped when the stack ends.
    func web(
        _ kind: TestDatabaseKind, slackAPIBaseURL: String? = nil, loginAttempts: Int = 5,
        configure: (inout Settings) -> Void = { _ in }, adjust: (inout WebDependencies) -> Void = { _ in }
    ) async throws -> WebTestHarness {
        try await WebTestHarness.start(
            kind, in: self, slackAPIBaseURL: slackAPIBaseURL, loginAttempts: loginAttempts, configure: configure, adjust: adjust
        )
    }
}

/// Runs `body` against a fresh `WebTestHarness`; everything it started is stopped, and awaited, when `body` returns
/// or throws.
func withWebHarness<Value>(
    _ kind: TestDatabaseKind, slackAPIBaseURL: String? = nil, loginAttempts: Int = 5,
    configure: (inout Settings) -> Void = { _ in }, adjust: (inout WebDependencies) -> Void = { _ in },
    isolation: isolated (any Actor)? = #isolation,
    _ body: (WebTestHarness) async throws -> Value
) async throws -> Value {
    try await withStack { stack in
        let h = try await stack.web(
            kind, slackAPIBaseURL: slackAPIBaseURL, loginAttempts: loginAttempts, configure: configure, adjust: adjust
        )
        return try await body(h)
    }
}

/// A cookie-keeping client that does not follow redirects, so tests see every hop.
final class TestBrowser: Sendable {
    struct Page: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: String
        var location: String? { header("Location") }
        func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
        var setCookies: [String] { headers.filter { $0.name.lowercased() == "set-cookie" }.map(\.value) }
        /// The value of `<input ... name="NAME" value="VALUE">` (the first such field).
        func field(_ name: String) -> String? {
            guard let range = body.range(of: "name=\"\(name)\" value=\"") else { return nil }
            let rest = body[range.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { return nil }
            return String(rest[..<end])
        }
    }

    let baseURL: String
    let http: CurlHTTPClient
    let extraHeaders: [(name: String, value: String)]
    private let jar = NIOLockedValueBox<[String: String]>([:])

    init(baseURL: String, http: CurlHTTPClient, extraHeaders: [(name: String, value: String)] = []) {
        self.baseURL = baseURL
        self.http = http
        self.extraHeaders = extraHeaders
    }

    var cookies: [String: String] {
        get { jar.withLockedValue { $0 } }
    }

    func setCookie(_ name: String, _ value: String?) { jar.withLockedValue { $0[name] = value } }

    func get(_ path: String) async throws -> Page {
        try await send("GET", path, body: nil)
    }

    func post(_ path: String, _ form: [(String, String)]) async throws -> Page {
        try await send("POST", path, body: FormEncoding.encode(form))
    }

    private func send(_ method: String, _ path: String, body: String?) async throws -> Page {
        var headers = extraHeaders
        let cookieHeader = cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ")
        if !cookieHeader.isEmpty { headers.append(("Cookie", cookieHeader)) }
        if body != nil { headers.append(("Content-Type", "application/x-www-form-urlencoded")) }
        let url = path.hasPrefix("http") ? path : baseURL + path
        let response = try await http.send(HTTPClientRequest(method: method, url: url, headers: headers, body: Array((body ?? "").utf8), timeout: .seconds(20)))
        let page = Page(status: response.status, headers: response.headers, body: String(decoding: response.body, as: UTF8.self))
        for header in page.setCookies { store(header) }
        return page
    }

    private func store(_ header: String) {
        let first = header.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        guard let eq = first.firstIndex(of: "=") else { return }
        let name = String(first[..<eq]).trimmingCharacters(in: .whitespaces)
        let value = String(first[first.index(after: eq)...])
        let lower = header.lowercased()
        if value.isEmpty || lower.contains("max-age=0") {
            setCookie(name, nil)
        } else {
            setCookie(name, value)
        }
    }
}

enum HarnessError: Error {
    case notStarted
}
