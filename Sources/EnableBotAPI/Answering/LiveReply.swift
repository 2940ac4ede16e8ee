import EnableBotCore
import Foundation
import Logging
import Metrics
import Synchronization

/// The model's words not yet shown, handed from the task reading the model to the one writing to Slack, which
/// waits for the next words (or for the model to be done) without polling.
final class PendingText: Sendable {
    private struct Waiter {
        var id: UInt64
        var wakesOnText: Bool
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var text = ""
        var closed = false
        var waiter: Waiter?
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    func append(_ piece: String) {
        let waiter = state.withLock { state -> Waiter? in
            state.text += piece
            guard state.waiter?.wakesOnText == true else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.continuation.resume()
    }

    /// The model is done: no more words will come.
    func close() {
        let waiter = state.withLock { state -> Waiter? in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.continuation.resume()
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Everything appended since the last call.
    func take() -> String {
        state.withLock { state in
            defer { state.text = "" }
            return state.text
        }
    }

    /// Waits until there are words to show (`wakesOnText`) or the model is done, or until `deadline` has come.
    /// One waiter at a time (the writing task).
    func wait(wakesOnText: Bool, until deadline: ContinuousClock.Instant? = nil) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let id = state.withLock { state -> UInt64? in
                    if state.closed || (wakesOnText && !state.text.isEmpty) { return nil }
                    state.nextID += 1
                    state.waiter = Waiter(id: state.nextID, wakesOnText: wakesOnText, continuation: continuation)
                    return state.nextID
                }
                guard let id else { return continuation.resume() }
                if let deadline {
                    Task {
                        try? await Task.sleep(until: deadline)
                        self.wake(id)
                    }
                }
            }
        } onCancel: {
            close()
        }
    }

    private func wake(_ id: UInt64) {
        let waiter = state.withLock { state -> Waiter? in
            guard state.waiter?.id == id else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.continuation.resume()
    }
}

/// Slack refused the answer's first message for good (`ok:false`, a 4xx): nothing was shown and nothing will be.
struct ReplyRefused: Error {
    let error: SlackAPIError
}

/// The message an answer is shown in while the model writes it: a streaming message (`chat.startStream`, then
/// `chat.appendStream` every `streamInterval`, `chat.stopStream`), or, where Slack refuses streaming or there is
/// no thread to stream into, a posted message updated with the text so far (`chat.postMessage`, then `chat.update`
/// every `updateInterval`, more messages when the text outgrows one).
///
/// Used by one task at a time: `publish` in the writing task while the model runs, then `finish` in the answering
/// task once `publish` has returned.
final class LiveReply: @unchecked Sendable {
    struct Target {
        var channelID: String
        /// nil: a DM's top level, where Slack does not stream; the reply is then posted and updated.
        var threadTS: String?
        var recipientTeamID: String?
        var recipientUserID: String
        var token: String
    }

    /// Slack's limit for a streamed message's Markdown is 12,000 characters; the rest of a longer answer follows
    /// as ordinary messages.
    static let streamedCharacterLimit = 11_000
    static let streamInterval: Duration = .milliseconds(500)
    /// `chat.update` is one of Slack's tier-3 methods (about 50 a minute per workspace).
    static let updateInterval: Duration = .seconds(1)

    private enum Mode: String {
        case stream, update
    }

    private let slack: SlackWebClient
    private let target: Target
    private let log: Logger
    /// Called with the first message's ts as soon as Slack gives it, before anything else can fail.
    private let onFirstMessage: @Sendable (String) async throws -> Void
    private var mode: Mode

    /// Everything the model wrote so far (its Markdown, as written), and as much of it as was last shown.
    private var written = ""
    private var lastShown = ""
    /// Stream mode: the part of `written` the streaming message shows, and where its escaping stands.
    private var streamed = ""
    private var lineStart = SlackText.LineStart.beginning
    /// Stream mode: no more room in the streaming message; what follows goes in ordinary messages at the end.
    private var streamFull = false
    /// The messages shown so far (update mode: each with the text it shows).
    private var messages: [(ts: String, text: String)] = []
    /// A transport failure or 5xx before the first message was out: nothing more is shown live (the answer is
    /// posted when the job is retried).
    private(set) var failure: (any Error)?

    init(
        slack: SlackWebClient, target: Target, streaming: Bool, log: Logger,
        onFirstMessage: @escaping @Sendable (String) async throws -> Void
    ) {
        self.slack = slack
        self.target = target
        self.mode = streaming && target.threadTS != nil ? .stream : .update
        self.log = log
        self.onFirstMessage = onFirstMessage
    }

    /// The first message's ts, once one is out.
    var firstTS: String? { messages.first?.ts }

    /// Shows the model's words as they come, until the model is done (`pending` closed).
    /// - Throws: `ReplyRefused` when Slack refused the first message; `CancellationError`.
    func publish(_ pending: PendingText) async throws {
        var lastSent: ContinuousClock.Instant?
        while true {
            await pending.wait(wakesOnText: true)
            if let lastSent {
                // Throttled: what arrives meanwhile goes in one call. The model finishing ends the wait early.
                await pending.wait(wakesOnText: false, until: lastSent + (mode == .stream ? Self.streamInterval : Self.updateInterval))
            }
            try Task.checkCancellation()
            // Done: whatever is left goes with the final call (`finish`) at once. A model that answered in one go
            // before anything was shown is posted whole (one call instead of a stream's two).
            if pending.isClosed { break }
            written += pending.take()
            guard failure == nil, written != lastShown else { continue }
            try await show()
            lastShown = written
            lastSent = .now
        }
        written += pending.take()
    }

    /// Shows the answer's final text (`text` starts with what the model wrote; an apology may follow) and ends the
    /// stream. Returns the first message's ts, or nil when none is out (the caller then posts the reply).
    /// - Throws: a Slack transport error or 5xx (the job is retried and finishes the same message).
    func finish(text: String) async throws -> String? {
        guard failure == nil, let first = firstTS else { return nil }
        written = text
        switch mode {
        case .stream:
            try await finishStream(ts: first)
        case .update:
            try await showUpdates(final: true)
        }
        return first
    }

    // MARK: Showing

    private func show() async throws {
        switch mode {
        case .stream: try await showStream()
        case .update: try await showUpdates(final: false)
        }
    }

    private func showStream() async throws {
        guard !streamFull, written.hasPrefix(streamed) else { return }
        let (piece, full) = Self.fitting(String(written.dropFirst(streamed.count)), after: streamed.count)
        streamFull = full
        guard !piece.isEmpty else { return }
        var nextLineStart = lineStart
        let markdown = SlackText.escapeMarkdown(piece, lineStart: &nextLineStart)
        do {
            if let ts = firstTS {
                try await slack.appendStream(channel: target.channelID, ts: ts, markdownText: markdown, token: target.token)
            } else {
                let ts = try await slack.startStream(
                    channel: target.channelID, threadTS: target.threadTS ?? "", recipientTeamID: target.recipientTeamID,
                    recipientUserID: target.recipientUserID, markdownText: markdown, token: target.token
                ).ts ?? ""
                messages = [(ts: ts, text: "")]
                try await onFirstMessage(ts)
            }
            streamed += piece
            lineStart = nextLineStart
        } catch let error as SlackAPIError where firstTS == nil {
            // Slack will not stream here (an unknown method, a missing scope, streaming switched off, a 5xx):
            // the same answer goes out as a message that is updated instead.
            Counter(label: "slack_stream_fallbacks_total", dimensions: [("code", error.code)]).increment()
            log.warning("Slack refused to stream the answer; posting and updating it instead", metadata: ["slack_error": "\(error.code)"])
            mode = .update
            try await showUpdates(final: false)
        } catch let error as SlackAPIError {
            // Not shown this time; the text stays unsent and goes with the next call or with chat.stopStream.
            Counter(label: "slack_api_errors_total", dimensions: [("method", error.method), ("code", error.code)]).increment()
            log.warning("a streamed piece was not taken", metadata: ["slack_error": "\(error.code)"])
        } catch is HTTPClientError where firstTS != nil {
            log.warning("a streamed piece did not reach Slack; sending it with the next one")
        } catch is HTTPClientError {
            failure = HTTPClientError.transport
        }
    }

    /// The longest start of `piece` that fits in the streaming message, which holds `used` characters already: all
    /// of it if it fits, else up to its last paragraph break that fits (`full` then: the message takes no more).
    static func fitting(_ piece: String, after used: Int) -> (piece: String, full: Bool) {
        let room = streamedCharacterLimit - used
        guard piece.count > room else { return (piece, false) }
        let candidate = piece.prefix(max(0, room))
        guard let paragraphEnd = candidate.range(of: "\n\n", options: .backwards) else { return ("", true) }
        return (String(candidate[..<paragraphEnd.lowerBound]), true)
    }

    private func finishStream(ts: String) async throws {
        let rest: String
        if written.hasPrefix(streamed) {
            rest = String(written.dropFirst(streamed.count))
        } else {
            rest = ""
            log.warning("the final answer differs from the streamed one; keeping what was streamed")
        }
        let (piece, _) = streamFull ? ("", true) : Self.fitting(rest, after: streamed.count)
        let overflow = String(rest.dropFirst(piece.count)).trimmingCharacters(in: .whitespacesAndNewlines)
        var nextLineStart = lineStart
        let markdown = piece.isEmpty ? nil : SlackText.escapeMarkdown(piece, lineStart: &nextLineStart)
        do {
            try await slack.stopStream(channel: target.channelID, ts: ts, markdownText: markdown, token: target.token)
            streamed += piece
        } catch let error as SlackAPIError where !error.isTransient {
            // The stream ended without us (Slack's own timeout) or cannot take the rest: the message gets the
            // whole answer as an ordinary one.
            log.warning("Slack refused to end the stream; updating the message instead", metadata: ["slack_error": "\(error.code)"])
            try await replaceFinal(ts: ts, text: written)
            return
        }
        for part in overflow.isEmpty ? [] : SlackText.render(markdown: overflow) {
            _ = try await slack.postMessage(channel: target.channelID, text: part, threadTS: target.threadTS, token: target.token)
        }
    }

    /// A retry's or a refused stop's way to end a message: stop any stream still open (an error means there is
    /// none), then set the first part of `text`; later parts are not posted again (an earlier attempt may have).
    func replaceFinal(ts: String, text: String) async throws {
        if mode == .stream {
            _ = try? await slack.stopStream(channel: target.channelID, ts: ts, markdownText: nil, token: target.token)
        }
        let parts = SlackText.render(markdown: text)
        do {
            try await slack.updateMessage(channel: target.channelID, ts: ts, text: parts[0], token: target.token)
        } catch let error as SlackAPIError where !error.isTransient {
            log.warning("Slack refused to update the reply", metadata: ["slack_error": "\(error.code)"])
        }
    }

    /// Update mode: the text so far rendered as mrkdwn parts; parts already out are updated when they changed, new
    /// ones posted. A refused first post throws `ReplyRefused`; other failures wait for the next round, except in
    /// the final one, where a transport failure or 5xx is thrown (the retry finishes the message).
    private func showUpdates(final: Bool) async throws {
        let parts = SlackText.render(markdown: written)
        for (index, part) in parts.enumerated() where index >= messages.count || messages[index].text != part {
            do {
                if index < messages.count {
                    try await slack.updateMessage(channel: target.channelID, ts: messages[index].ts, text: part, token: target.token)
                    messages[index].text = part
                } else {
                    let ts = try await slack.postMessage(
                        channel: target.channelID, text: part, threadTS: target.threadTS, token: target.token
                    ).ts ?? ""
                    messages.append((ts: ts, text: part))
                    if index == 0 { try await onFirstMessage(ts) }
                }
            } catch let error as SlackAPIError where messages.isEmpty && !error.isTransient {
                throw ReplyRefused(error: error)
            } catch let error where messages.isEmpty && (error is SlackAPIError || error is HTTPClientError) {
                failure = error
                return
            } catch let error where final && (error is HTTPClientError || (error as? SlackAPIError)?.isTransient == true) {
                throw error
            } catch let error as SlackAPIError {
                Counter(label: "slack_api_errors_total", dimensions: [("method", error.method), ("code", error.code)]).increment()
                log.warning("a reply update was not taken", metadata: ["slack_error": "\(error.code)"])
                return
            } catch is HTTPClientError {
                return
            }
        }
    }
}
