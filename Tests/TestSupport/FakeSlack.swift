import EnableBotCore
import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// One fake Slack on loopback, over real HTTP, for both services:
/// - the Web API (`/api/<method>`): the install and sign-in methods answer from the fake's own state
///   (oauth.v2.access, auth.test, openid.connect.token, openid.connect.userInfo, users.info; see FakeSlack+OAuth),
///   every other method (chat.postMessage, chat.postEphemeral, chat.update, …) answers `{"ok":true,…}`;
/// - the browser's authorize page (`/oauth/v2/authorize`), which approves at once and redirects back.
///
/// Every Web API call is recorded (method, Authorization, decoded fields). Tests change answers with
/// `script(_:_:)` (the next calls of a method, in order: 429, `ok:false`, 5xx, a hang) and `fail(_:with:)`
/// (`ok:false` from now on); a scripted answer comes first.
public final class FakeSlack: Sendable {
    public struct Call: Sendable {
        public var method: String
        public var authorization: String?
        public var contentType: String?
        /// Top-level fields of the JSON body, or the form fields, as strings.
        public var fields: [String: String]

        public var bearerToken: String? {
            authorization.flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        }
    }

    public enum Behavior: Sendable {
        /// `{"ok":true}` plus these raw JSON members (e.g. `"\"ts\":\"1.2\""`).
        case ok(extraJSON: String = "")
        case rateLimited(retryAfter: Int)
        case error(String)
        case status(Int)
        /// This body as it is, with status 200 (for answers Slack should never give).
        case raw(String)
        case hang
    }

    public static let defaultClientID = "111.222"
    public static let defaultClientSecret = "fake-client-secret"

    struct State: Sendable {
        var calls: [Call] = []
        var scripted: [String: [Behavior]] = [:]
        var failures: [String: String] = [:]
        var oauth = OAuthState()
        /// Messages posted or streamed so far: each gets its own ts.
        var messages = 0
    }

    public let clientID: String
    public let clientSecret: String
    let state = NIOLockedValueBox(State())
    private let server: LocalHTTPServer

    /// The Web API root to configure as `SLACK_API_BASE_URL`.
    public var apiBaseURL: String { server.baseURL + "/api" }
    /// Stands in for https://slack.com/oauth/v2/authorize (never called by the server itself).
    public var authorizeURL: String { server.baseURL + "/oauth/v2/authorize" }
    public var openIDAuthorizeURL: String { server.baseURL + "/openid/connect/authorize" }

    private init(clientID: String, clientSecret: String, server: LocalHTTPServer) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.server = server
    }

    /// Starts the fake. Prefer `TestStack.slack()`, which also stops it.
    public static func start(clientID: String = defaultClientID, clientSecret: String = defaultClientSecret) async throws -> FakeSlack {
        // The routes need the fake, the fake needs the started server: the box closes the loop.
        let box = NIOLockedValueBox<FakeSlack?>(nil)
        let server = try await LocalHTTPServer.start { router in
            router.get("/oauth/v2/authorize") { request, _ -> Response in
                guard let fake = box.withLockedValue({ $0 }) else { return Response(status: .serviceUnavailable) }
                return fake.authorizePage(state: request.uri.queryParameters["state"].map(String.init) ?? "")
            }
            router.post("/api/{method}") { request, context -> Response in
                guard let fake = box.withLockedValue({ $0 }) else { return Response(status: .serviceUnavailable) }
                let buffer = try await request.body.collect(upTo: 1 << 20)
                let contentType = request.headers[.contentType]
                let call = Call(
                    method: context.parameters.get("method") ?? "", authorization: request.headers[.authorization],
                    contentType: contentType, fields: Self.fields(body: Array(buffer.readableBytesView), contentType: contentType)
                )
                return try await fake.answer(call)
            }
        }
        let fake = FakeSlack(clientID: clientID, clientSecret: clientSecret, server: server)
        box.withLockedValue { $0 = fake }
        return fake
    }

    public func stop() async { await server.stop() }

    /// The next calls of `method` get these answers, in order; later calls get the usual answer again.
    public func script(_ method: String, _ behaviors: Behavior...) {
        state.withLockedValue { $0.scripted[method, default: []].append(contentsOf: behaviors) }
    }

    /// Makes `method` answer `ok:false` with `error` from now on (after any scripted answers).
    public func fail(_ method: String, with error: String) {
        state.withLockedValue { $0.failures[method] = error }
    }

    /// Every Web API call so far, oldest first.
    public var calls: [Call] { state.withLockedValue { $0.calls } }

    public func calls(_ method: String) -> [Call] { calls.filter { $0.method == method } }

    /// Waits until `method` was called at least `count` times; returns its calls (fewer if the time ran out).
    @discardableResult
    public func waitForCalls(_ method: String, count: Int = 1, timeout: Duration = .seconds(10)) async -> [Call] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found = calls(method)
            if found.count >= count { return found }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return calls(method)
    }

    private enum Answer {
        case behavior(Behavior)
        case json(String)
    }

    /// Methods that create a message, answered with its `channel` and a `ts` of its own.
    static let messageMethods: Set<String> = ["chat.postMessage", "chat.startStream"]

    private func answer(_ call: Call) async throws -> Response {
        let (answer, ts) = state.withLockedValue { state -> (Answer, String) in
            state.calls.append(call)
            if Self.messageMethods.contains(call.method) { state.messages += 1 }
            return (self.answer(call, state: &state), String(format: "1700000000.%06d", state.messages))
        }
        switch answer {
        case .json(let json): return Self.jsonBody(json)
        case .behavior(let behavior): return try await Self.respond(behavior, call: call, ts: ts)
        }
    }

    private func answer(_ call: Call, state: inout State) -> Answer {
        if var queue = state.scripted[call.method], !queue.isEmpty {
            let next = queue.removeFirst()
            state.scripted[call.method] = queue
            return .behavior(next)
        }
        if let error = state.failures[call.method] { return .behavior(.error(error)) }
        if let json = oauthAnswer(call, state: &state.oauth) { return .json(json) }
        return .behavior(.ok())
    }

    private static func respond(_ behavior: Behavior, call: Call, ts: String) async throws -> Response {
        switch behavior {
        case .ok(let extra):
            var json = "{\"ok\":true"
            if messageMethods.contains(call.method) {
                json += ",\"channel\":\"\(call.fields["channel"] ?? "")\",\"ts\":\"\(ts)\""
            }
            if !extra.isEmpty { json += "," + extra }
            return jsonBody(json + "}")
        case .rateLimited(let seconds):
            return Response(
                status: .tooManyRequests, headers: [.retryAfter: "\(seconds)"],
                body: .init(byteBuffer: ByteBuffer(string: "{\"ok\":false,\"error\":\"ratelimited\"}"))
            )
        case .error(let code):
            return jsonBody(json(["ok": false, "error": code]))
        case .status(let status):
            return Response(status: .init(code: status))
        case .raw(let body):
            return jsonBody(body)
        case .hang:
            try await Task.sleep(for: .seconds(3600))
            return Response(status: .gatewayTimeout)
        }
    }

    private static func jsonBody(_ json: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: json))
        )
    }

    static func json(_ object: [String: Any]) -> String {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func fields(body: [UInt8], contentType: String?) -> [String: String] {
        if contentType?.hasPrefix("application/json") == true {
            guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return [:] }
            return object.compactMapValues { value in
                switch value {
                case let text as String: text
                case let number as NSNumber: number.stringValue
                default: nil
                }
            }
        }
        var result: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            result[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return result
    }
}
