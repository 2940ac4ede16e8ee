import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// A fake OpenAI-compatible chat-completions server on loopback. Records every request (Authorization, model,
/// messages) and answers `Echo: <last user message>` unless told otherwise (5xx, a delay, a hang).
public final class FakeLLM: Sendable {
    public struct Message: Sendable, Equatable {
        public var role: String
        public var content: String

        public init(role: String, content: String) {
            self.role = role
            self.content = content
        }
    }

    public struct Call: Sendable {
        public var authorization: String?
        public var model: String
        public var messages: [Message]
    }

    public enum Behavior: Sendable {
        case answer(String)
        case status(Int)
        /// Waits, then answers as by default.
        case delay(Duration)
        case hang
    }

    private struct State {
        var calls: [Call] = []
        var scripted: [Behavior] = []
        var always: Behavior?
        var inFlight = 0
        var maxInFlight = 0
        /// What each answer reports in `usage`; nil: no `usage` object.
        var usage: (prompt: Int, completion: Int)? = FakeLLM.defaultUsage
    }

    /// Every answer reports this `usage` unless told otherwise (`reportUsage`).
    public static let defaultUsage: (prompt: Int, completion: Int)? = (prompt: 30, completion: 10)

    private let server: LocalHTTPServer
    private let state: NIOLockedValueBox<State>

    /// The `LLM_BASE_URL` to use (`/chat/completions` is appended by the client).
    public var baseURL: String { server.baseURL + "/v1" }

    private init(server: LocalHTTPServer, state: NIOLockedValueBox<State>) {
        self.server = server
        self.state = state
    }

    public static func start() async throws -> FakeLLM {
        let state = NIOLockedValueBox(State())
        let server = try await LocalHTTPServer.start { router in
            router.post("/v1/chat/completions") { request, _ -> Response in
                var request = request
                let buffer = try await request.body.collect(upTo: 4 << 20)
                let call = Self.parse(Array(buffer.readableBytesView), authorization: request.headers[.authorization])
                let (behavior, usage) = state.withLockedValue { state -> (Behavior?, (prompt: Int, completion: Int)?) in
                    state.calls.append(call)
                    state.inFlight += 1
                    state.maxInFlight = max(state.maxInFlight, state.inFlight)
                    if !state.scripted.isEmpty { return (state.scripted.removeFirst(), state.usage) }
                    return (state.always, state.usage)
                }
                func completion(_ text: String) -> Response { Self.completion(text, usage: usage) }
                defer { state.withLockedValue { $0.inFlight -= 1 } }
                let echo = "Echo: " + (call.messages.last { $0.role == "user" }?.content ?? "")
                switch behavior {
                case nil: return completion(echo)
                case .answer(let text): return completion(text)
                case .status(let status): return Response(status: .init(code: status))
                case .delay(let duration):
                    try await Task.sleep(for: duration)
                    return completion(echo)
                case .hang:
                    try await Task.sleep(for: .seconds(3600))
                    return Response(status: .gatewayTimeout)
                }
            }
        }
        return FakeLLM(server: server, state: state)
    }

    /// The next requests get these answers, in order.
    public func script(_ behaviors: Behavior...) {
        state.withLockedValue { $0.scripted.append(contentsOf: behaviors) }
    }

    /// Every request without a scripted answer gets this one (nil: the echo).
    public func always(_ behavior: Behavior?) {
        state.withLockedValue { $0.always = behavior }
    }

    /// The `usage` every later answer reports (nil: answers without one, as some servers send).
    public func reportUsage(prompt: Int, completion: Int) {
        state.withLockedValue { $0.usage = (prompt: prompt, completion: completion) }
    }

    public func reportUsage(_ usage: (prompt: Int, completion: Int)?) {
        state.withLockedValue { $0.usage = usage }
    }

    public var calls: [Call] { state.withLockedValue { $0.calls } }
    public var inFlight: Int { state.withLockedValue { $0.inFlight } }
    public var maxInFlight: Int { state.withLockedValue { $0.maxInFlight } }

    @discardableResult
    public func waitForCalls(count: Int = 1, timeout: Duration = .seconds(10)) async -> [Call] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found = calls
            if found.count >= count { return found }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return calls
    }

    public func stop() async { await server.stop() }

    private static func completion(_ text: String, usage: (prompt: Int, completion: Int)?) -> Response {
        var object: [String: Any] = [
            "id": "chatcmpl-fake", "object": "chat.completion",
            "choices": [["index": 0, "message": ["role": "assistant", "content": text], "finish_reason": "stop"]],
        ]
        if let usage {
            object["usage"] = [
                "prompt_tokens": usage.prompt, "completion_tokens": usage.completion, "total_tokens": usage.prompt + usage.completion,
            ]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private static func parse(_ body: [UInt8], authorization: String?) -> Call {
        let object = (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:]
        let messages = (object["messages"] as? [[String: Any]] ?? []).map {
            Message(role: $0["role"] as? String ?? "", content: $0["content"] as? String ?? "")
        }
        return Call(authorization: authorization, model: object["model"] as? String ?? "", messages: messages)
    }
}
