import Foundation
import Hummingbird
import NIOConcurrencyHelpers

/// A fake OpenAI-compatible chat-completions server on loopback. Records every request (Authorization, model,
/// messages, whether it asked to stream) and answers `Echo: <last user message>` unless told otherwise (5xx, a
/// delay, a hang, a scripted stream). A request with `"stream": true` gets server-sent events (`data:` chunks with
/// `delta.content`, a `usage` chunk, `[DONE]`), the default answer in two pieces, unless `streams(false)` makes the
/// fake a server that ignores `stream` and answers JSON.
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
        public var stream: Bool
    }

    public enum Behavior: Sendable {
        case answer(String)
        case status(Int)
        /// Waits, then answers as by default.
        case delay(Duration)
        case hang
        /// Server-sent events: each piece after `every` (the first too); `cut` ends the body after the pieces
        /// without a finish reason or `[DONE]` (a stream broken off midway); `hangAfter` keeps the connection
        /// open after the pieces, silent, for an hour.
        case streamed([String], every: Duration, cut: Bool = false, hangAfter: Bool = false)
    }

    private struct State {
        var calls: [Call] = []
        var scripted: [Behavior] = []
        var always: Behavior?
        var inFlight = 0
        var maxInFlight = 0
        /// What each answer reports in `usage`; nil: no `usage` object.
        var usage: (prompt: Int, completion: Int)? = FakeLLM.defaultUsage
        var streams = true
        var streamsWriting = 0
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
                let buffer = try await request.body.collect(upTo: 4 << 20)
                let call = Self.parse(Array(buffer.readableBytesView), authorization: request.headers[.authorization])
                let (behavior, usage) = state.withLockedValue { state -> (Behavior?, (prompt: Int, completion: Int)?) in
                    state.calls.append(call)
                    state.inFlight += 1
                    state.maxInFlight = max(state.maxInFlight, state.inFlight)
                    if !state.scripted.isEmpty { return (state.scripted.removeFirst(), state.usage) }
                    return (state.always, state.usage)
                }
                let streams = call.stream && state.withLockedValue { $0.streams }
                func completion(_ text: String) -> Response {
                    guard streams else { return Self.completion(text, usage: usage) }
                    let words = text.split(separator: " ", omittingEmptySubsequences: false)
                    let half = (words.count + 1) / 2
                    let pieces = [words[..<half].joined(separator: " "), words.count > half ? " " + words[half...].joined(separator: " ") : ""]
                    return Self.events(pieces.filter { !$0.isEmpty }, every: .zero, cut: false, hangAfter: false, usage: usage, state: state)
                }
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
                case .streamed(let pieces, let every, let cut, let hangAfter):
                    guard streams else { return completion(pieces.joined()) }
                    return Self.events(pieces, every: every, cut: cut, hangAfter: hangAfter, usage: usage, state: state)
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

    /// false: the fake ignores `"stream": true` and answers JSON, as servers without streaming do.
    public func streams(_ streams: Bool) {
        state.withLockedValue { $0.streams = streams }
    }

    public var calls: [Call] { state.withLockedValue { $0.calls } }
    public var inFlight: Int { state.withLockedValue { $0.inFlight } }
    /// Streamed answers still being written (their last event not sent yet).
    public var streamsWriting: Int { state.withLockedValue { $0.streamsWriting } }
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

    /// A `text/event-stream` response written piece by piece, as OpenAI's servers stream.
    private static func events(
        _ pieces: [String], every: Duration, cut: Bool, hangAfter: Bool, usage: (prompt: Int, completion: Int)?,
        state: NIOLockedValueBox<State>
    ) -> Response {
        @Sendable func event(_ object: [String: Any]) -> ByteBuffer {
            let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
            return ByteBuffer(string: "data: " + String(decoding: data, as: UTF8.self) + "\n\n")
        }
        @Sendable func chunk(_ delta: [String: Any], finish: String? = nil) -> ByteBuffer {
            var choice: [String: Any] = ["index": 0, "delta": delta]
            if let finish { choice["finish_reason"] = finish }
            return event(["id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [choice]])
        }
        let body = ResponseBody { writer in
            state.withLockedValue { $0.streamsWriting += 1 }
            defer { state.withLockedValue { $0.streamsWriting -= 1 } }
            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
            try await writer.write(chunk(["role": "assistant", "content": ""]))
            for piece in pieces {
                if every > .zero { try await Task.sleep(for: every) }
                try await writer.write(chunk(["content": piece]))
            }
            if hangAfter { try await Task.sleep(for: .seconds(3600)) }
            if !cut {
                try await writer.write(chunk([:], finish: "stop"))
                if let usage {
                    try await writer.write(event([
                        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [] as [Any],
                        "usage": ["prompt_tokens": usage.prompt, "completion_tokens": usage.completion,
                                  "total_tokens": usage.prompt + usage.completion],
                    ]))
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    private static func parse(_ body: [UInt8], authorization: String?) -> Call {
        let object = (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:]
        let messages = (object["messages"] as? [[String: Any]] ?? []).map {
            Message(role: $0["role"] as? String ?? "", content: $0["content"] as? String ?? "")
        }
        return Call(authorization: authorization, model: object["model"] as? String ?? "", messages: messages,
                    stream: object["stream"] as? Bool ?? false)
    }
}
