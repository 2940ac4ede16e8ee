import EnableBotCore
import Foundation
import Logging
import Metrics
import Synchronization

/// The background half of a message: limits, thread memory, the model, the reply. Failures of the model end in
/// an apology in the thread; failures of Slack are logged and audited; only transient storage or Slack transport
/// errors are thrown, so the worker retries the job.
struct AnswerHandler: Sendable {
    let stores: Stores
    let limits: AnswerLimits
    let logger: Logger
    let slack: SlackWebClient
    let llm: any LLMClient
    let limiter: any RateLimiter
    let usage: UsageRecorder
    let tokens: BotTokenProvider
    let budget: PromptBudget
    /// The rate limiter's clock.
    let now: @Sendable () -> Date
    let assistantThreads: AssistantThreadHandler

    /// Does the job and finishes it (an answered one together with its memory turns, in one commit).
    func handle(_ job: Job) async throws {
        let work: BotJob
        do {
            work = try BotJob(kind: job.kind, payload: job.payload)
        } catch {
            logger.error("unreadable job; dropping it", metadata: ["job_kind": "\(job.kind)", "job_id": "\(job.id)", "error": "\(error)"])
            try await stores.jobs.complete(job)
            return
        }
        switch work {
        case .answer(let answerJob):
            try await answer(answerJob, job: job)
        case .lifecycle(let lifecycleJob):
            try await recordLifecycle(lifecycleJob)
            try await stores.jobs.complete(job)
        case .assistantThread(let threadJob):
            try await assistantThreads.handle(threadJob, job: job)
        }
    }

    func answer(_ job: AnswerJob, job stored: Job) async throws {
        var log = logger
        log[metadataKey: "tenant_id"] = "\(job.tenantID)"
        log[metadataKey: "user_id"] = "\(job.userID)"
        log[metadataKey: "event_id"] = "\(job.eventID)"
        // The installation and its tokens in one read: nearly every job needs both.
        guard let tenant = try await stores.installations.findWithTokens(tenantID: job.tenantID),
              tenant.installation.status == .active else {
            Counter(label: "slack_events_ignored_total", dimensions: [("reason", "inactive_team")]).increment()
            log.info("tenant inactive or gone; not answering")
            try await stores.jobs.complete(stored)
            return
        }
        let installation = tenant.installation
        let question = Prompt.question(from: job.text, botUserID: installation.botUserID, limit: budget.maxMessageCharacters)
        if let reply = stored.reply {
            // A retry after the reply was decided: no second model call, no second admission, and no second
            // message if the first attempt got as far as posting it.
            if stored.postedTS == nil, stored.lastError == nil {
                // The attempt before ended without a word (its process died or its lease was taken over) after the
                // reply was decided: it may have posted it just before. Slack cannot be asked which, so count it.
                Counter(label: "reply_reposts_uncertain_total").increment()
            }
            log.info("carrying on with the reply decided by an earlier attempt", metadata: ["posted": "\(stored.postedTS != nil)"])
            if let ts = stored.postedTS, limits.streaming, job.command == nil {
                // The message may be a stream the earlier attempt left open, or missing its last words.
                guard try await endEarlierMessage(job, ts: ts, text: reply, tenant: tenant, log: log) else {
                    try await stores.jobs.complete(stored)
                    return
                }
            }
            try await postAndFinish(job, stored: stored, question: question, text: reply, remember: stored.replyRemembered,
                                    tenant: tenant, log: log)
            return
        }
        if let ts = stored.postedTS {
            // An earlier attempt was streaming the answer when it died: this one asks the model again and puts the
            // whole answer in that same message (no second message; the model is paid twice).
            Counter(label: "reply_streams_resumed_total").increment()
            log.info("finishing the answer an earlier attempt was streaming")
            let answer = try await callModel(request(for: job, installation: installation, question: question, history: history(job)),
                                             job: job, question: question, log: log, onText: nil)
            try await stores.jobs.saveReply(stored, reply: answer.text, remembered: answer.remember)
            guard try await endEarlierMessage(job, ts: ts, text: answer.text, tenant: tenant, log: log) else {
                try await stores.jobs.complete(stored)
                return
            }
            try await finishAnswered(job, stored: stored, postedTS: ts, question: question, text: answer.text, remember: answer.remember)
            return
        }
        usage.record(tenantID: job.tenantID, .events)

        // Limits first: an event over the limit costs no model call.
        let tenantLimit = installation.settings.effectiveRateLimit(default: limits.perTenant)
        let decision = try await limiter.admit(
            [RateLimitKey("tenant:\(job.tenantID)", tenantLimit), RateLimitKey("global", limits.global)],
            at: now()
        )
        if case .limited(let key, let retryAfter) = decision {
            try await rateLimited(job, key: key, retryAfter: retryAfter, spec: key == "global" ? limits.global : tenantLimit, log: log)
            try await stores.jobs.complete(stored)
            return
        }

        // The month's token budget: used up means no model call at all (and no tokens).
        let tokenBudget = installation.settings.effectiveTokenBudget(default: limits.tokenBudget)
        if !question.isEmpty, !tokenBudget.isUnlimited {
            let spent = try await usage.monthTokens(tenantID: job.tenantID)
            if tokenBudget.isExhausted(byUsing: spent) {
                try await budgetExhausted(job, budget: tokenBudget, spent: spent, log: log)
                try await stores.jobs.complete(stored)
                return
            }
        }

        if question.isEmpty {
            try await stores.jobs.saveReply(stored, reply: Prompt.emptyQuestion, remembered: false)
            try await postAndFinish(job, stored: stored, question: question, text: Prompt.emptyQuestion, remember: false,
                                    tenant: tenant, log: log)
            return
        }
        let history = try await history(job)
        let assistantThread = try await assistantThread(job, tenant: tenant, question: question, isFirstQuestion: history.isEmpty, log: log)
        var request = request(for: job, installation: installation, question: question, history: history)
        if let channel = assistantThread?.context.channelID {
            request.messages[0].content += "\n\n" + Prompt.viewingChannel(channel)
        }
        if limits.streaming, job.command == nil {
            try await streamAnswer(job, stored: stored, question: question, request: request, tenant: tenant, log: log)
            return
        }
        let answer = try await callModel(request, job: job, question: question, log: log, onText: nil)
        // Kept with the job before posting: if the post fails, the retry sends this reply rather than paying for
        // (and possibly differing in) a second model call.
        try await stores.jobs.saveReply(stored, reply: answer.text, remembered: answer.remember)
        try await postAndFinish(job, stored: stored, question: question, text: answer.text, remember: answer.remember,
                                tenant: tenant, log: log)
    }

    /// For a message in one of Slack's assistant threads (a DM thread that began with `assistant_thread_started`):
    /// shows "is thinking…" at once and names the thread after its first question. Nil for any other message.
    /// Neither call is needed for the answer, so their failures are only logged.
    private func assistantThread(
        _ job: AnswerJob, tenant: InstallationWithTokens, question: String, isFirstQuestion: Bool, log: Logger
    ) async throws -> AssistantThreadRecord? {
        guard job.command == nil, job.channelID.hasPrefix("D"), let thread = job.replyThreadTS,
              let record = try await stores.assistantThreads.find(tenantID: job.tenantID, channelID: job.channelID, threadTS: thread),
              let token = try await botToken(job, stored: tenant.tokens, log: log) else { return nil }
        do {
            try await slack.assistantSetStatus(channel: job.channelID, threadTS: thread, status: Prompt.thinkingStatus, token: token)
            if isFirstQuestion {
                try await slack.assistantSetTitle(channel: job.channelID, threadTS: thread, title: Prompt.threadTitle(question), token: token)
            }
        } catch let error as SlackAPIError {
            Counter(label: "slack_api_errors_total", dimensions: [("method", error.method), ("code", error.code)]).increment()
            log.warning("Slack refused an assistant-thread call", metadata: ["slack_method": "\(error.method)", "slack_error": "\(error.code)"])
        } catch is HTTPClientError {
            log.warning("an assistant-thread call did not reach Slack")
        }
        return record
    }

    /// The thread's earlier turns, for the model (none for a command, nor for a message that opened its thread).
    private func history(_ job: AnswerJob) async throws -> [ChatTurn] {
        if job.opensThread == true { return [] }
        return try await job.memoryThreadTS.asyncMap { thread in
            try await stores.chatMemory.recent(
                tenantID: job.tenantID, channelID: job.channelID, threadTS: thread,
                maxTurns: budget.maxTurns, maxCharacters: budget.maxHistoryCharacters
            )
        } ?? []
    }

    private func request(for job: AnswerJob, installation: Installation, question: String, history: [ChatTurn]) -> LLMRequest {
        LLMRequest(
            model: installation.settings.model ?? limits.defaultModel,
            messages: Prompt.messages(systemPrompt: installation.settings.systemPrompt, history: history, question: question)
        )
    }

    /// What the model answered, or what is said instead.
    struct ModelAnswer: Sendable {
        var text: String
        /// Kept as the thread's memory: a whole answer of the model (not an apology, not one that broke off).
        var remember: Bool
    }

    /// Asks the model (streaming its words to `onText` when given). A failure ends in the apology; an answer that
    /// broke off after its first words in those words and a note that it broke off.
    private func callModel(
        _ request: LLMRequest, job: AnswerJob, question: String, log: Logger, onText: (@Sendable (String) -> Void)?
    ) async throws -> ModelAnswer {
        let start = ContinuousClock.now
        let received = Mutex("")
        do {
            let completion: LLMCompletion
            if let onText {
                completion = try await llm.stream(request) { piece in
                    received.withLock { $0 += piece }
                    onText(piece)
                }
            } else {
                completion = try await llm.complete(request)
            }
            let elapsed = ContinuousClock.now - start
            Timer(label: "llm_call_duration_seconds").recordNanoseconds(elapsed.milliseconds * 1_000_000)
            Counter(label: "llm_calls_total", dimensions: [("outcome", "ok")]).increment()
            usage.record(tenantID: job.tenantID, .llmCalls)
            recordTokens(completion.usage, tenantID: job.tenantID, model: request.model)
            log.info("model answered", metadata: [
                "duration_ms": "\(elapsed.milliseconds)", "model": "\(request.model)", "streamed": "\(onText != nil)",
                "prompt_tokens": "\(completion.usage?.promptTokens ?? 0)", "completion_tokens": "\(completion.usage?.completionTokens ?? 0)",
            ])
            return ModelAnswer(text: Self.commandPrefix(job, question: question) + completion.text, remember: true)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            Counter(label: "llm_calls_total", dimensions: [("outcome", "error")]).increment()
            usage.record(tenantID: job.tenantID, .errors)
            let shown = received.withLock { $0 }
            if !shown.isEmpty {
                log.warning("the model's answer broke off; ending it with a note", metadata: ["error": "\(error)"])
                return ModelAnswer(text: shown + "\n\n" + Prompt.brokeOff, remember: false)
            }
            log.warning("model gave no answer; apologizing", metadata: ["error": "\(error)"])
            return ModelAnswer(text: Prompt.apology, remember: false)
        }
    }

    /// The answer shown while the model writes it (`LiveReply`), then finished like any other: the reply kept with
    /// the job, the message ended, the job done with the message's ts and the thread's memory.
    private func streamAnswer(
        _ job: AnswerJob, stored: Job, question: String, request: LLMRequest, tenant: InstallationWithTokens, log: Logger
    ) async throws {
        guard let token = try await botToken(job, stored: tenant.tokens, log: log) else {
            try await stores.jobs.complete(stored)
            return
        }
        let live = LiveReply(slack: slack, target: target(job, installation: tenant.installation, token: token), streaming: true, log: log) { ts in
            try await stores.jobs.markPosted(stored, ts: ts)
        }
        let pending = PendingText()
        let answer: ModelAnswer
        do {
            answer = try await withThrowingTaskGroup(of: ModelAnswer?.self) { group in
                group.addTask {
                    try await live.publish(pending)
                    return nil
                }
                group.addTask {
                    defer { pending.close() }
                    return try await callModel(request, job: job, question: question, log: log) { pending.append($0) }
                }
                var answer: ModelAnswer?
                for try await result in group where result != nil { answer = result }
                return answer ?? ModelAnswer(text: Prompt.apology, remember: false)
            }
        } catch let refused as ReplyRefused {
            // Slack will not take the answer here (not in the channel, archived, …): the model was stopped.
            try await slackFailed(refused.error, tenantID: job.tenantID, log: log)
            try await stores.jobs.complete(stored)
            return
        }
        try await stores.jobs.saveReply(stored, reply: answer.text, remembered: answer.remember)
        guard let postedTS = try await live.finish(text: answer.text) else {
            // Nothing could be shown while the model wrote: the reply goes out as a whole, as without streaming.
            try await postAndFinish(job, stored: stored, question: question, text: answer.text, remember: answer.remember,
                                    tenant: tenant, log: log, token: token)
            return
        }
        Counter(label: "slack_replies_total").increment()
        log.info("replied", metadata: ["channel": "\(job.channelID)", "streamed": "true"])
        try await finishAnswered(job, stored: stored, postedTS: postedTS, question: question, text: answer.text, remember: answer.remember)
    }

    private func target(_ job: AnswerJob, installation: Installation, token: String) -> LiveReply.Target {
        LiveReply.Target(
            channelID: job.channelID, threadTS: job.replyThreadTS, recipientTeamID: installation.teamID ?? job.tenantID,
            recipientUserID: job.userID, token: token
        )
    }

    /// Ends the message an earlier attempt posted or streamed with `text` (`LiveReply.replaceFinal`). False when
    /// there is no token to do it with (logged and audited).
    private func endEarlierMessage(_ job: AnswerJob, ts: String, text: String, tenant: InstallationWithTokens, log: Logger) async throws -> Bool {
        guard let token = try await botToken(job, stored: tenant.tokens, log: log) else { return false }
        let live = LiveReply(slack: slack, target: target(job, installation: tenant.installation, token: token), streaming: true, log: log) { _ in }
        try await live.replaceFinal(ts: ts, text: text)
        return true
    }

    /// The workspace's bot token, or nil when there is none to be had (logged and audited: retrying would not help).
    private func botToken(_ job: AnswerJob, stored: Result<InstallationTokens, any Error>, log: Logger) async throws -> String? {
        do {
            return try await tokens.botToken(tenantID: job.tenantID, stored: stored)
        } catch let error as BotTokenUnavailable {
            log.error("cannot reply: \(error.reason)")
            try? await stores.auditLog.record(tenantID: job.tenantID, actor: "system", action: "slack_error", detail: error.reason)
            return nil
        }
    }

    /// Posts the reply (unless an earlier attempt did) and finishes the job in one commit: done, the message's `ts`,
    /// and the question and answer as two turns of the thread's memory.
    private func postAndFinish(
        _ job: AnswerJob, stored: Job, question: String, text: String, remember: Bool, tenant: InstallationWithTokens, log: Logger,
        token: String? = nil
    ) async throws {
        var postedTS = stored.postedTS
        if postedTS == nil {
            let parts = Self.messageParts(job, question: question, text: text)
            guard let posted = try await post(job, parts: parts, tokens: tenant.tokens, log: log, token: token) else {
                try await stores.jobs.complete(stored)  // Slack refused it for good: logged and audited.
                return
            }
            postedTS = posted ?? ""
        }
        try await finishAnswered(job, stored: stored, postedTS: postedTS, question: question, text: text, remember: remember)
    }

    /// Done, the message's `ts`, and the question and answer as two turns of the thread's memory: one commit.
    private func finishAnswered(_ job: AnswerJob, stored: Job, postedTS: String?, question: String, text: String, remember: Bool) async throws {
        let exchange = (remember ? job.memoryThreadTS : nil).map { thread in
            ChatExchange(tenantID: job.tenantID, channelID: job.channelID, threadTS: thread, question: question, answer: text, at: now())
        }
        do {
            try await stores.jobs.finish(stored, postedTS: postedTS, remembering: exchange)
        } catch let error as LeaseLost {
            throw error
        } catch {
            // The message is out: whatever failed, keep its ts so that no retry posts it again.
            if stored.postedTS == nil, let postedTS { try? await stores.jobs.markPosted(stored, ts: postedTS) }
            throw error
        }
    }

    private func rateLimited(_ job: AnswerJob, key: String, retryAfter: TimeInterval, spec: RateLimitSpec, log: Logger) async throws {
        let scope = key == "global" ? "global" : "tenant"
        Counter(label: "rate_limited_total", dimensions: [("scope", scope)]).increment()
        usage.record(tenantID: job.tenantID, .rateLimited)
        try await stores.auditLog.record(
            tenantID: job.tenantID, actor: "system", action: "rate_limited",
            detail: "\(scope) limit \(spec) reached; event \(job.eventID) from \(job.userID) not sent to the model"
        )
        log.warning("rate limited; not calling the model", metadata: ["scope": "\(scope)", "limit": "\(spec)"])
        let noticeKey = "notice:\(job.tenantID):\(job.userID)"
        guard try await limiter.claimNotice(noticeKey, window: TimeInterval(spec.windowSeconds), at: now()) else { return }
        do {
            let token = try await tokens.botToken(tenantID: job.tenantID)
            try await slack.postEphemeral(
                channel: job.channelID, user: job.userID, text: Prompt.rateLimitNotice(retryAfter: retryAfter),
                threadTS: job.replyThreadTS, token: token
            )
        } catch let error as SlackAPIError {
            try await slackFailed(error, tenantID: job.tenantID, log: log)
        }
    }

    /// What a slash command's answer starts with: who asked what (their words as Slack sent them); empty for a mention.
    static func commandPrefix(_ job: AnswerJob, question: String) -> String {
        job.command == nil ? "" : "<@\(job.userID)> asked: \(question)\n\n"
    }

    /// The messages a reply is posted as: through `SlackText` (escaped, Markdown as mrkdwn, split to fit), which
    /// leaves EnableBot's own texts (the apology, the hint) as written; a command's prefix (who asked what, in
    /// Slack's own escaping) is put in front unescaped.
    static func messageParts(_ job: AnswerJob, question: String, text: String) -> [String] {
        let prefix = commandPrefix(job, question: question)
        guard !prefix.isEmpty, text.hasPrefix(prefix) else { return SlackText.render(markdown: text) }
        var parts = SlackText.render(markdown: String(text.dropFirst(prefix.count)))
        if (prefix + parts[0]).utf16.count <= SlackText.messageLimit {
            parts[0] = prefix + parts[0]
        } else {
            parts.insert(String(prefix.dropLast(2)), at: 0)
        }
        return parts
    }

    /// Posts the reply, part after part in the thread; returns the first part's Slack `ts` (inner nil when Slack did
    /// not say). Returns nil when Slack refused the first part (logged and audited; retrying would not help).
    ///
    /// Once the first part is out, the job counts as posted (its `posted_ts` is the first part's): a later part that
    /// fails (refused, 5xx, transport, cancelled) is logged (and audited when Slack refused it), the rest of the reply
    /// is dropped and the job finishes with the first part's ts, so no retry posts any part a second time. A reply
    /// is thus posted at most once per part, possibly cut short; progress per part is not stored. Parts go where
    /// the first one goes (`replyThreadTS`: the thread, or top level for a DM or a command), one after the other.
    private func post(
        _ job: AnswerJob, parts: [String], tokens stored: Result<InstallationTokens, any Error>, log: Logger, token known: String? = nil
    ) async throws -> String?? {
        // The streaming path fetched the token already (a decryption each time).
        guard let token = try await (known != nil ? known : botToken(job, stored: stored, log: log)) else { return nil }
        let first: String?
        do {
            first = try await slack.postMessage(channel: job.channelID, text: parts[0], threadTS: job.replyThreadTS, token: token).ts
            Counter(label: "slack_replies_total").increment()
            log.info("replied", metadata: ["channel": "\(job.channelID)", "parts": "\(parts.count)"])
        } catch let error as SlackAPIError where !error.isTransient {
            try await slackFailed(error, tenantID: job.tenantID, log: log)
            return nil
        }
        guard parts.count > 1 else { return .some(first) }
        for (number, part) in parts.enumerated().dropFirst() {
            do {
                try await slack.postMessage(channel: job.channelID, text: part, threadTS: job.replyThreadTS, token: token)
            } catch {
                Counter(label: "reply_parts_dropped_total").increment()
                log.warning("a later part of the reply failed; the rest is dropped",
                            metadata: ["part": "\(number + 1)", "parts": "\(parts.count)", "error": "\(error)"])
                if let error = error as? SlackAPIError, !error.isTransient {
                    try? await slackFailed(error, tenantID: job.tenantID, log: log)
                }
                break  // Even when cancelled: the caller finishes the job (or keeps the first ts) as for one part.
            }
        }
        return .some(first)
    }

    /// Slack answered `ok:false` (or a 4xx): log Slack's code, audit it, and deactivate a tenant whose token no longer works.
    private func slackFailed(_ error: SlackAPIError, tenantID: String, log: Logger) async throws {
        try await SlackFailureRecorder(stores: stores, usage: usage).record(error, tenantID: tenantID, log: log)
    }

    /// The deactivation itself happened on the ack path (before the acknowledgement, so no later event of the
    /// tenant is answered); this records it durably, once per event. Not repeated here: the tenant may have
    /// reinstalled since.
    func recordLifecycle(_ job: LifecycleJob) async throws {
        try await stores.auditLog.record(tenantID: job.tenantID, actor: "slack", action: job.eventType, detail: job.detail)
        logger.info("installation deactivated", metadata: ["tenant_id": "\(job.tenantID)", "event_id": "\(job.eventID)", "event": "\(job.eventType)"])
    }

    /// What the completion cost: counted for the workspace's budget (per day, flushed each second) and in `/metrics` by
    /// model (no tenant label). A server that does not report usage costs nothing here.
    private func recordTokens(_ spent: LLMUsage?, tenantID: String, model: String) {
        guard let spent else { return }
        usage.record(tenantID: tenantID, .promptTokens, by: spent.promptTokens)
        usage.record(tenantID: tenantID, .completionTokens, by: spent.completionTokens)
        Counter(label: "llm_tokens_total", dimensions: [("model", model), ("kind", "prompt")]).increment(by: spent.promptTokens)
        Counter(label: "llm_tokens_total", dimensions: [("model", model), ("kind", "completion")]).increment(by: spent.completionTokens)
    }

    /// The month's budget is spent: counted, audited, and the person told once a day.
    private func budgetExhausted(_ job: AnswerJob, budget: TokenBudget, spent: Int64, log: Logger) async throws {
        Counter(label: "llm_budget_exhausted_total").increment()
        try await stores.auditLog.record(
            tenantID: job.tenantID, actor: "system", action: "budget_exhausted",
            detail: "token budget \(budget) reached (\(spent) used this month); event \(job.eventID) from \(job.userID) not sent to the model"
        )
        log.warning("token budget used up; not calling the model", metadata: ["budget": "\(budget)", "used": "\(spent)"])
        let noticeKey = "budget-notice:\(job.tenantID):\(job.userID)"
        guard try await limiter.claimNotice(noticeKey, window: 86_400, at: now()) else { return }
        do {
            let token = try await tokens.botToken(tenantID: job.tenantID)
            try await slack.postEphemeral(
                channel: job.channelID, user: job.userID, text: Prompt.budgetNotice, threadTS: job.replyThreadTS, token: token
            )
        } catch let error as SlackAPIError {
            try await slackFailed(error, tenantID: job.tenantID, log: log)
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        switch self {
        case .some(let value): try await transform(value)
        case .none: nil
        }
    }
}

/// The deployment's defaults an answer is held to (`RATE_LIMIT_PER_TENANT`, `RATE_LIMIT_GLOBAL`, `LLM_MODEL`); a
/// workspace's own settings refine them.
struct AnswerLimits: Sendable {
    var perTenant: RateLimitSpec
    var global: RateLimitSpec
    var defaultModel: String
    var tokenBudget: TokenBudget
    /// `LLM_STREAMING`: answers to mentions and DMs are shown while the model writes them.
    var streaming: Bool

    init(settings: Settings) {
        streaming = settings.llmStreaming
        perTenant = settings.rateLimitPerTenant
        global = settings.rateLimitGlobal
        defaultModel = settings.llmModel
        tokenBudget = settings.tokenBudgetPerTenant
    }
}
