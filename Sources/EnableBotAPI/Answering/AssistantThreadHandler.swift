import EnableBotCore
import Foundation
import Logging
import Metrics

/// The background half of Slack's assistant-thread events. `assistant_thread_started`: the thread and its context are
/// saved, a short greeting is posted in the thread, and the workspace's suggested prompts (or the defaults) are set.
/// `assistant_thread_context_changed`: the new context is saved, nothing is posted. Answering a message in the thread
/// reads the context back through `Stores.assistantThreads`.
///
/// Slack refusing a call (`ok:false`, 4xx) is logged and audited (`SlackFailureRecorder`) and the job completes:
/// retrying would not change Slack's mind. Slack's 5xx and transport errors are rethrown, so the worker retries the
/// job. A retry never posts the greeting twice: the thread's `greeted_at` is set once the greeting is out and
/// checked before posting (kept on the thread rather than the job, so a second `assistant_thread_started` for the
/// same thread, under a new event id, does not greet again either). Only a crash between Slack's answer and that
/// write could greet twice, as with answers.
struct AssistantThreadHandler: Sendable {
    let stores: Stores
    let slack: SlackWebClient
    let tokens: BotTokenProvider
    let failures: SlackFailureRecorder
    let logger: Logger

    /// Posted in a new thread. EnableBot's own words, posted as written.
    static let greeting = "Hi! I'm EnableBot. Ask me anything — I answer here in this thread."
    /// Shown above the suggested prompts.
    static let promptsTitle = "Try one of these:"

    /// Does the job and completes it; throws only what is worth a retry (storage, Slack's 5xx, transport).
    func handle(_ job: AssistantThreadJob, job stored: Job) async throws {
        var log = logger
        log[metadataKey: "tenant_id"] = "\(job.tenantID)"
        log[metadataKey: "user_id"] = "\(job.userID)"
        log[metadataKey: "event_id"] = "\(job.eventID)"
        Counter(label: "assistant_thread_events_total", dimensions: [("type", job.eventType.rawValue)]).increment()
        guard let installation = try await stores.installations.find(tenantID: job.tenantID),
              installation.status == .active else {
            Counter(label: "slack_events_ignored_total", dimensions: [("reason", "inactive_team")]).increment()
            log.info("tenant inactive or gone; assistant thread not recorded")
            try await stores.jobs.complete(stored)
            return
        }
        try await stores.assistantThreads.save(
            tenantID: job.tenantID, channelID: job.channelID, threadTS: job.threadTS, userID: job.userID, context: job.context
        )
        if job.eventType == .started {
            try await welcome(job, prompts: installation.settings.effectiveSuggestedPrompts, log: log)
        } else {
            log.info("assistant thread context changed", metadata: ["context_channel": "\(job.contextChannelID ?? "none")"])
        }
        try await stores.jobs.complete(stored)
    }

    /// The greeting (once per thread) and the suggested prompts (on every attempt: setting them again is harmless).
    private func welcome(_ job: AssistantThreadJob, prompts: [SuggestedPrompt], log: Logger) async throws {
        let token: String
        do {
            token = try await tokens.botToken(tenantID: job.tenantID)
        } catch let error as BotTokenUnavailable {
            log.error("cannot greet the assistant thread: \(error.reason)")
            try? await stores.auditLog.record(tenantID: job.tenantID, actor: "system", action: "slack_error", detail: error.reason)
            return
        }
        let thread = try await stores.assistantThreads.find(tenantID: job.tenantID, channelID: job.channelID, threadTS: job.threadTS)
        if thread?.greetedAt == nil {
            do {
                try await slack.postMessage(channel: job.channelID, text: Self.greeting, threadTS: job.threadTS, token: token)
                try await stores.assistantThreads.markGreeted(tenantID: job.tenantID, channelID: job.channelID, threadTS: job.threadTS)
                log.info("greeted a new assistant thread", metadata: ["channel": "\(job.channelID)"])
            } catch let error as SlackAPIError where !error.isTransient {
                try await failures.record(error, tenantID: job.tenantID, log: log)
                // Without a working token the prompts would be refused too.
                if error.revokesInstallation { return }
            }
        }
        do {
            try await slack.assistantSetSuggestedPrompts(
                channel: job.channelID, threadTS: job.threadTS, title: Self.promptsTitle,
                prompts: Array(prompts.prefix(SuggestedPrompt.maxCount)), token: token
            )
        } catch let error as SlackAPIError where !error.isTransient {
            // Refused for good: recorded, and the thread works without prompts.
            try await failures.record(error, tenantID: job.tenantID, log: log)
        }
    }
}
