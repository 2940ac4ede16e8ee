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

    /// The request's JSON, written directly (`JSONEncoder` was a fiftieth of an answer's CPU): the model, the
    /// messages, and for a stream `stream` with `stream_options.include_usage`.
    static func body(_ request: LLMRequest, streaming: Bool) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(request.messages.reduce(128) { $0 + $1.content.utf8.count + 40 })
        output.append(contentsOf: #"{"model":"#.utf8)
        JSONLogHandler.appendJSONString(request.model, to: &output)
        output.append(contentsOf: #","messages":["#.utf8)
        for (index, message) in request.messages.enumerated() {
            output.append(contentsOf: (index == 0 ? #"{"role":"# : #",{"role":"#).utf8)
            JSONLogHandler.appendJSONString(message.role.rawValue, to: &output)
            output.append(contentsOf: #","content":"#.utf8)
            JSONLogHandler.appendJSONString(message.content, to: &output)
            output.append(UInt8(ascii: "}"))
        }
        output.append(UInt8(ascii: "]"))
        if streaming { output.append(contentsOf: #","stream":true,"stream_options":{"include_usage":true}"#.utf8) }
        output.append(UInt8(ascii: "}"))
        return output
    }

    private struct Usage {
        var prompt_tokens: Int64?
        var completion_tokens: Int64?

        /// `usage` of a completion or of a stream's last event; nil when it is not an object.
        static func read(_ reader: inout JSONByteReader) throws -> Usage? {
            guard try reader.kind() == .object else {
                try reader.skipValue()
                return nil
            }
            var usage = Usage()
            try reader.readObject { reader, key in
                switch key {
                case "prompt_tokens": usage.prompt_tokens = try reader.readIntegerIfPresent()
                case "completion_tokens": usage.completion_tokens = try reader.readIntegerIfPresent()
                default: try reader.skipValue()
                }
            }
            return usage
        }

        /// Counted only when the server gave both numbers, and sane ones.
        var counted: LLMUsage? {
            guard let prompt = prompt_tokens, let answer = completion_tokens, prompt >= 0, answer >= 0 else { return nil }
            return LLMUsage(promptTokens: prompt, completionTokens: answer)
        }
    }


    /// What one server-sent event of a streamed completion says (`choices[0].delta.content`, a finish reason,
    /// `usage`, `error`), read with `JSONByteReader`: a long answer is a few hundred events, and `JSONDecoder` per
    /// event cost more CPU than everything else an answer does.
    struct Chunk: Equatable {
        var content: String?
        var finished = false
        var usage: LLMUsage?
        var failed = false

        /// nil when `data` is not a JSON object.
        static func read(_ data: String) -> Chunk? {
            var chunk = Chunk()
            var usage: Usage?
            do {
                try JSONByteReader.read(data) { reader in
                    guard try reader.kind() == .object else { throw reader.malformed("not an object") }
                    try reader.readObject { reader, key in
                        switch key {
                        case "choices":
                            guard try reader.kind() == .array else { return try reader.skipValue() }
                            try reader.readArray { reader in
                                guard try reader.kind() == .object else { return try reader.skipValue() }
                                try reader.readObject { reader, key in
                                    switch key {
                                    case "delta":
                                        guard try reader.kind() == .object else { return try reader.skipValue() }
                                        try reader.readObject { reader, key in
                                            if key == "content", let text = try reader.readStringIfPresent() {
                                                chunk.content = (chunk.content ?? "") + text
                                            } else {
                                                try reader.skipValue()
                                            }
                                        }
                                    case "finish_reason":
                                        if try reader.readStringIfPresent() != nil { chunk.finished = true }
                                    default: try reader.skipValue()
                                    }
                                }
                            }
                        case "usage": usage = try Usage.read(&reader)
                        case "error":
                            chunk.failed = !reader.readNull()
                            if chunk.failed { try reader.skipValue() }
                        default: try reader.skipValue()
                        }
                    }
                }
            } catch {
                return nil
            }
            chunk.usage = usage?.counted
            return chunk
        }
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
        let body = Self.body(request, streaming: streaming)
        let httpRequest = HTTPClientRequest(
            method: "POST", url: endpoint,
            headers: [("Content-Type", "application/json"), ("Accept", streaming ? "text/event-stream, application/json" : "application/json"),
                      ("Authorization", "Bearer \(apiKey)")],
            body: body, timeout: timeout
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

    /// `choices[0].message.content` and `usage` of a whole completion, read with `JSONByteReader` like the streamed
    /// events (`JSONDecoder` was a fiftieth of an answer's CPU).
    static func decodeWhole(_ body: [UInt8]) throws -> LLMCompletion {
        var content: String?
        var sawChoices = false
        var usage: Usage?
        let read: Void? = try? JSONByteReader.read(validUTF8: JSONByteReader.isValidUTF8(body) ? body : []) { reader in
            guard try reader.kind() == .object else { throw reader.malformed("not an object") }
            try reader.readObject { reader, key in
                switch key {
                case "choices":
                    guard try reader.kind() == .array else { throw reader.malformed("choices is not an array") }
                    sawChoices = true
                    var first = true
                    try reader.readArray { reader in
                        defer { first = false }
                        guard first, try reader.kind() == .object else { return try reader.skipValue() }
                        try reader.readObject { reader, key in
                            guard key == "message", try reader.kind() == .object else { return try reader.skipValue() }
                            try reader.readObject { reader, key in
                                if key == "content" { content = try reader.readStringIfPresent() } else { try reader.skipValue() }
                            }
                        }
                    }
                case "usage": usage = try Usage.read(&reader)
                default: try reader.skipValue()
                }
            }
        }
        guard read != nil, sawChoices, let content, !content.isBlank else {
            throw LLMError.invalidResponse("no answer in the completion")
        }
        return LLMCompletion(text: content, usage: usage?.counted)
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
                // One hand-over per network read, not per event; words that arrive together with the end are only
                // returned (a caller that has shown nothing yet posts the whole answer in one go).
                var arrived = ""
                for data in parser.feed(piece) {
                    if data == "[DONE]" {
                        finished = true
                        parser.sawDone = true
                        break
                    }
                    guard let chunk = Chunk.read(data) else { continue }
                    if chunk.failed {
                        if !arrived.isEmpty { onText(arrived) }
                        throw brokeOff("the server sent an error event")
                    }
                    if let counted = chunk.usage { usage = counted }
                    if let content = chunk.content { arrived += content }
                    if chunk.finished { finished = true }
                }
                text += arrived
                if !finished, !arrived.isEmpty { onText(arrived) }
                if finished, parser.sawDone { break reading }
            }
        } catch let error as HTTPClientError {
            if error == .cancelled || Task.isCancelled { throw CancellationError() }
            guard !text.isEmpty else { throw error }  // retried, or a timeout, as for `complete`
            throw LLMError.interrupted("\(error)")
        }
        if Task.isCancelled { throw CancellationError() }
        if !finished, parser.finish() == "[DONE]" { finished = true }  // no blank line after the last event
        guard finished else { throw brokeOff("the stream ended before [DONE]") }
        guard !text.isBlank else {
            throw LLMError.invalidResponse("no answer in the stream")
        }
        return LLMCompletion(text: text, usage: usage)
    }
}

/// Splits a `text/event-stream` body into the data of its events (the `data:` lines of each, joined by newlines).
/// Comments (`:` lines, keep-alives) and other fields are skipped.
struct ServerSentEvents {
    /// Set by the reader when an event's data was `[DONE]`.
    var sawDone = false
    private var partial: [UInt8] = []
    private var data: [String] = []

    mutating func feed(_ bytes: [UInt8]) -> [String] {
        var events: [String] = []
        var start = bytes.startIndex
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if partial.isEmpty {
                line(bytes[start..<newline], into: &events)
            } else {
                partial += bytes[start..<newline]
                line(partial[...], into: &events)
                partial.removeAll(keepingCapacity: true)
            }
            start = newline + 1
        }
        partial += bytes[start...]
        return events
    }

    private mutating func line(_ raw: ArraySlice<UInt8>, into events: inout [String]) {
        var line = raw
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        if line.isEmpty {
            if !data.isEmpty { events.append(data.count == 1 ? data[0] : data.joined(separator: "\n")) }
            data.removeAll(keepingCapacity: true)
        } else if line.starts(with: "data:".utf8) {
            var value = line.dropFirst(5)
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
            data.append(String(decoding: value, as: UTF8.self))
        }
    }

    /// The data of an event the body ended in without its closing blank line.
    mutating func finish() -> String? {
        if !partial.isEmpty { _ = feed([UInt8(ascii: "\n")]) }
        defer { data.removeAll() }
        return data.isEmpty ? nil : data.joined(separator: "\n")
    }
}
