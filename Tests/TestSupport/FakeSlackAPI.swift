import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// A fake Slack Web API on loopback: records every call (method, Authorization, decoded fields) and answers
/// `{"ok":true,…}` unless told otherwise for the next call(s) of a method (429, `ok:false`, 5xx, a hang).
public final class FakeSlackAPI: Sendable {
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
        case hang
    }

    private struct State {
        var calls: [Call] = []
        var scripted: [String: [Behavior]] = [:]
    }

    private let server: LocalHTTPServer
    private let state: NIOLockedValueBox<State>

    /// The `SLACK_API_BASE_URL` to use.
    public var baseURL: String { server.baseURL + "/api" }

    private init(server: LocalHTTPServer, state: NIOLockedValueBox<State>) {
        self.server = server
        self.state = state
    }

    public static func start() async throws -> FakeSlackAPI {
        let state = NIOLockedValueBox(State())
        let server = try await LocalHTTPServer.start { router in
            router.post("/api/:method") { request, context -> Response in
                let method = context.parameters.get("method") ?? ""
                var request = request
                let buffer = try await request.body.collect(upTo: 1 << 20)
                let body = Array(buffer.readableBytesView)
                let contentType = request.headers[.contentType]
                let call = Call(
                    method: method, authorization: request.headers[.authorization], contentType: contentType,
                    fields: Self.fields(body: body, contentType: contentType)
                )
                let behavior = state.withLockedValue { state -> Behavior in
                    state.calls.append(call)
                    guard var queue = state.scripted[method], !queue.isEmpty else { return .ok() }
                    let next = queue.removeFirst()
                    state.scripted[method] = queue
                    return next
                }
                return try await Self.respond(behavior, method: method, call: call)
            }
        }
        return FakeSlackAPI(server: server, state: state)
    }

    /// The next calls of `method` get these answers, in order; later calls get `{"ok":true}` again.
    public func script(_ method: String, _ behaviors: Behavior...) {
        state.withLockedValue { $0.scripted[method, default: []].append(contentsOf: behaviors) }
    }

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

    public func stop() async { await server.stop() }

    private static func respond(_ behavior: Behavior, method: String, call: Call) async throws -> Response {
        switch behavior {
        case .ok(let extra):
            var json = "{\"ok\":true"
            if method == "chat.postMessage" {
                json += ",\"channel\":\"\(call.fields["channel"] ?? "")\",\"ts\":\"1700000000.000100\""
            }
            if !extra.isEmpty { json += "," + extra }
            return jsonBody(json + "}")
        case .rateLimited(let seconds):
            return Response(status: .tooManyRequests, headers: [.retryAfter: "\(seconds)"], body: .init(byteBuffer: ByteBuffer(string: "{\"ok\":false,\"error\":\"ratelimited\"}")))
        case .error(let code):
            return jsonBody("{\"ok\":false,\"error\":\"\(code)\"}")
        case .status(let status):
            return Response(status: .init(code: status))
        case .hang:
            try await Task.sleep(for: .seconds(3600))
            return Response(status: .gatewayTimeout)
        }
    }

    private static func jsonBody(_ json: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
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
