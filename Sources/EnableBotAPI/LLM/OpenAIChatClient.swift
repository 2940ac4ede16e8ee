import EnableBotCore
import Foundation
import Logging

/// `POST {baseURL}/chat/completions` on any OpenAI-compatible endpoint, with a bearer key. 5xx, 429 and
/// connection failures are retried with exponential backoff a bounded number of times; a timeout is final
/// (retrying it would keep the user waiting several timeouts long).
public struct OpenAIChatClient: LLMClient {
    private let endpoint: String
    private let apiKey: String
    private let timeout: Duration
    private let http: any HTTPClient
    private let maxRetries: Int
    private let backoff: Duration
    private let sleep: @Sendable (Duration) async throws -> Void
    private let logger: Logger

    public init(
        baseURL: String, apiKey: String, timeout: Duration, http: any HTTPClient, logger: Logger,
        maxRetries: Int = 2, backoff: Duration = .milliseconds(500),
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.endpoint = (baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL) + "/chat/completions"
        self.apiKey = apiKey
        self.timeout = timeout
        self.http = http
        self.maxRetries = maxRetries
        self.backoff = backoff
        self.sleep = sleep
        self.logger = logger
    }

    /// How many calls at most one `complete` makes.
    public var maxAttempts: Int { maxRetries + 1 }

    private struct Body: Encodable {
        struct StreamOptions: Encodable { var include_usage = true }
        var model: String
        var messages: [LLMMessage]
        var stream: Bool? = nil
        var stream_options: StreamOptions? = nil
    }

    private struct Usage: Decodable {
        var prompt_tokens: Int64?
        var completion_tokens: Int64?

        /// Counted only when the server gave both numbers, and sane ones.
        var counted: LLMUsage? {
            guard let prompt = prompt_tokens, let answer = completion_tokens, prompt >= 0, answer >= 0 else { return nil }
            return LLMUsage(promptTokens: prompt, completionTokens: answer)
        }
    }

    private struct Completion: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable { var content: String? }
            var message: Message?
        }
        var choices: [Choice]
        var usage: Usage?
    }

    /// One server-sent event of a streamed completion.
    private struct Chunk: Decodable {
        struct Choice: Decodable {
            struct Delta: Decodable { var content: String? }
            var delta: Delta?
            var finish_reason: String?
        }
        struct Failure: Decodable { var message: String? }
        var choices: [Choice]?
        var usage: Usage?
        var error: Failure?
    }

    public func complete(_ request: LLMRequest) async throws -> LLMCompletion {
        try await withRetries(request, streaming: false) { httpRequest in
            let response = try await http.send(httpRequest)
            if let failure = try Self.failure(status: response.status) { return .failed(failure) }
            return .answered(try Self.decodeWhole(response.body))
        }
    }

    /// `stream: true` with `stream_options.include_usage`: the server's events are read as they come (a server that
    /// ignores `stream` and answers JSON still works). Retried like `complete` while nothing was handed on yet.
    public func stream(_ request: LLMRequest, onText: @escaping @Sendable (String) -> Void) async throws -> LLMCompletion {
        try await withRetries(request, streaming: true) { httpRequest in
            let response = try await http.stream(httpRequest)
            if let failure = try Self.failure(status: response.status) { return .failed(failure) }
            let isEventStream = response.header("Content-Type")?.lowercased().hasPrefix("text/event-stream") ?? false
            guard isEventStream else {
                var body: [UInt8] = []
                for try await piece in response.body { body += piece }
                return .answered(try Self.decodeWhole(body))  // nothing to show early: the answer comes whole
            }
            return .answered(try await Self.readEvents(response.body, onText: onText))
        }
    }

    private enum Attempt {
        case answered(LLMCompletion)
        case failed(LLMError)
    }

    /// 5xx, 429 and connection failures are tried again after a backoff (`failed`); anything else ends the call.
    private func withRetries(
        _ request: LLMRequest, streaming: Bool, attempt call: (HTTPClientRequest) async throws -> Attempt
    ) async throws -> LLMCompletion {
        let body = try JSONEncoder().encode(Body(
            model: request.model, messages: request.messages,
            stream: streaming ? true : nil, stream_options: streaming ? Body.StreamOptions() : nil
        ))
        let httpRequest = HTTPClientRequest(
            method: "POST", url: endpoint,
            headers: [("Content-Type", "application/json"), ("Accept", streaming ? "text/event-stream, application/json" : "application/json"),
                      ("Authorization", "Bearer \(apiKey)")],
            body: Array(body), timeout: timeout
        )
        var attempt = 0
        while true {
            attempt += 1
            let failure: LLMError
            do {
                switch try await call(httpRequest) {
                case .answered(let completion): return completion
                case .failed(let error): failure = error
                }
            } catch let error as HTTPClientError {
                if error == .cancelled || Task.isCancelled { throw CancellationError() }
                if error == .timedOut { throw LLMError.timedOut("no answer within \(timeout)") }
                failure = .unavailable("\(error)")
            } catch let error as LLMError where error == .unavailable("") {
                failure = error  // a stream that broke off before its first word
            }
            guard attempt <= maxRetries else { throw failure }
            let wait = backoff * (1 << (attempt - 1))
            logger.warning("model call failed; retrying", metadata: [
                "attempt": "\(attempt)", "error": "\(failure.detail)", "retry_in_ms": "\(wait.milliseconds)",
            ])
            try await sleep(wait)
        }
    }

    /// nil for 2xx; a retryable failure for 429 and 5xx; throws for other statuses (retrying will not help).
    private static func failure(status: Int) throws -> LLMError? {
        switch status {
        case 200..<300: nil
        case 429, 500..<600: .unavailable("HTTP \(status)")
        default: throw LLMError.rejected("HTTP \(status)")
        }
    }

    private static func decodeWhole(_ body: [UInt8]) throws -> LLMCompletion {
        guard let completion = try? JSONDecoder().decode(Completion.self, from: Data(body)),
              let content = completion.choices.first?.message?.content,
              !content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw LLMError.invalidResponse("no answer in the completion")
        }
        return LLMCompletion(text: content, usage: completion.usage?.counted)
    }

    /// Reads `data:` events until `[DONE]`. A stream that breaks off (transport error, an `error` event, the end
    /// without `[DONE]` or a finish reason) after text was handed on is `interrupted`; before, it is retryable.
    private static func readEvents(
        _ body: AsyncThrowingStream<[UInt8], any Error>, onText: @Sendable (String) -> Void
    ) async throws -> LLMCompletion {
        var parser = ServerSentEvents()
        var text = ""
        var usage: LLMUsage?
        var finished = false
        func brokeOff(_ detail: String) -> LLMError {
            text.isEmpty ? .unavailable(detail) : .interrupted(detail)
        }
        do {
            reading: for try await piece in body {
                for data in parser.feed(piece) {
                    if data == "[DONE]" {
                        finished = true
                        break reading
                    }
                    guard let chunk = try? JSONDecoder().decode(Chunk.self, from: Data(data.utf8)) else { continue }
                    if chunk.error != nil { throw brokeOff("the server sent an error event") }
                    if let counted = chunk.usage?.counted { usage = counted }
                    for choice in chunk.choices ?? [] {
                        if let content = choice.delta?.content, !content.isEmpty {
                            text += content
                            onText(content)
                        }
                        if choice.finish_reason != nil { finished = true }
                    }
                }
            }
        } catch let error as HTTPClientError {
            if error == .cancelled || Task.isCancelled { throw CancellationError() }
            guard !text.isEmpty else { throw error }  // retried, or a timeout, as for `complete`
            throw LLMError.interrupted("\(error)")
        }
        if Task.isCancelled { throw CancellationError() }
        if !finished, parser.finish() == "[DONE]" { finished = true }  // no blank line after the last event
        guard finished else { throw brokeOff("the stream ended before [DONE]") }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw LLMError.invalidResponse("no answer in the stream")
        }
        return LLMCompletion(text: text, usage: usage)
    }
}

/// Splits a `text/event-stream` body into the data of its events (the `data:` lines of each, joined by newlines).
/// Comments (`:` lines, keep-alives) and other fields are skipped.
struct ServerSentEvents {
    private var line: [UInt8] = []
    private var data: [String] = []

    mutating func feed(_ bytes: [UInt8]) -> [String] {
        var events: [String] = []
        for byte in bytes {
            guard byte == UInt8(ascii: "\n") else {
                line.append(byte)
                continue
            }
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if line.isEmpty {
                if !data.isEmpty { events.append(data.joined(separator: "\n")) }
                data.removeAll()
            } else if line.starts(with: Array("data:".utf8)) {
                var value = line.dropFirst(5)
                if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
                data.append(String(decoding: value, as: UTF8.self))
            }
            line.removeAll(keepingCapacity: true)
        }
        return events
    }

    /// The data of an event the body ended in without its closing blank line.
    mutating func finish() -> String? {
        if !line.isEmpty { _ = feed([UInt8(ascii: "\n")]) }
        defer { data.removeAll() }
        return data.isEmpty ? nil : data.joined(separator: "\n")
    }
}
