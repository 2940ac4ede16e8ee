import Foundation

/// chat.* and assistant.threads.*: what the bot writes, kept for the chat page.
struct Messaging {
    let api: WebAPI
    private var state: EmulatorState { api.state }

    func answer(_ call: APICall) async throws -> WebAPI.Answer {
        let (_, workspace) = try await api.bot(call)
        let channel = try channel(call.string("channel"), in: workspace)
        let text = call.string("markdown_text") ?? call.string("text")
        switch call.method {
        case "chat.postMessage":
            guard let text else { throw EmulatorAPIError("no_text") }
            let message = await state.post(
                teamID: workspace.id, channel: channel.id, user: workspace.botUserID, text: text,
                threadTS: call.string("thread_ts"), isBot: true
            )
            return ["channel": channel.id, "ts": message.ts, "message": describe(message, workspace)]
        case "chat.postEphemeral":
            guard let text else { throw EmulatorAPIError("no_text") }
            guard let user = call.string("user"), workspace.user(user) != nil else { throw EmulatorAPIError("user_not_found") }
            if let person = channel.imUser, person != user { throw EmulatorAPIError("user_not_in_channel") }
            let message = await state.post(
                teamID: workspace.id, channel: channel.id, user: workspace.botUserID, text: text,
                threadTS: call.string("thread_ts"), isBot: true, ephemeralTo: user
            )
            return ["message_ts": message.ts]
        case "chat.update":
            guard let ts = call.string("ts") else { throw EmulatorAPIError("message_not_found") }
            guard let text else { throw EmulatorAPIError("no_text") }
            let edited = await state.editBotMessage(teamID: workspace.id, channel: channel.id, ts: ts) {
                $0.text = text
                $0.edited = true
            }
            guard let edited else { throw EmulatorAPIError(await exists(workspace, channel, ts) ? "cant_update_message" : "message_not_found") }
            return ["channel": channel.id, "ts": ts, "text": edited.text, "message": describe(edited, workspace)]
        case "chat.startStream":
            guard let thread = call.string("thread_ts") else { throw EmulatorAPIError("invalid_arguments") }
            let message = await state.post(
                teamID: workspace.id, channel: channel.id, user: workspace.botUserID, text: text ?? "", threadTS: thread,
                isBot: true, streaming: true
            )
            return ["channel": channel.id, "ts": message.ts]
        default:  // chat.appendStream, chat.stopStream
            guard let ts = call.string("ts") else { throw EmulatorAPIError("invalid_arguments") }
            let stopping = call.method == "chat.stopStream"
            if !stopping, text == nil { throw EmulatorAPIError("invalid_arguments") }
            guard let current = await state.message(teamID: workspace.id, channel: channel.id, ts: ts), current.isBot else {
                throw EmulatorAPIError("message_not_found")
            }
            guard current.streaming else { throw EmulatorAPIError("message_not_in_streaming_state") }
            _ = await state.editBotMessage(teamID: workspace.id, channel: channel.id, ts: ts) {
                $0.text += text ?? ""
                if stopping { $0.streaming = false }
            }
            return ["channel": channel.id, "ts": ts]
        }
    }

    func assistant(_ call: APICall) async throws -> WebAPI.Answer {
        let (_, workspace) = try await api.bot(call)
        let channel = try channel(call.string("channel_id"), in: workspace)
        guard let thread = call.string("thread_ts") else { throw EmulatorAPIError("invalid_arguments") }
        switch call.method {
        case "assistant.threads.setStatus":
            let status = call.string("status") ?? ""
            await state.updateThread(teamID: workspace.id, channel: channel.id, threadTS: thread) { $0.status = status }
        case "assistant.threads.setTitle":
            guard let title = call.string("title") else { throw EmulatorAPIError("invalid_arguments") }
            await state.updateThread(teamID: workspace.id, channel: channel.id, threadTS: thread) { $0.title = title }
        default:  // assistant.threads.setSuggestedPrompts
            guard let list = call.json("prompts") as? [[String: Any]], !list.isEmpty, list.count <= 4 else {
                throw EmulatorAPIError("invalid_arguments")
            }
            let prompts = list.compactMap { entry -> AssistantThreadState.Prompt? in
                guard let title = entry["title"] as? String, let message = entry["message"] as? String else { return nil }
                return AssistantThreadState.Prompt(title: title, message: message)
            }
            guard prompts.count == list.count else { throw EmulatorAPIError("invalid_arguments") }
            let title = call.string("title")
            await state.updateThread(teamID: workspace.id, channel: channel.id, threadTS: thread) {
                $0.prompts = prompts
                $0.promptsTitle = title
            }
        }
        return [:]
    }

    /// A channel of the token's workspace, by id, `#name`, or a person's id (their DM with the bot). Another
    /// workspace's channel is `channel_not_found`, as in Slack: tenants never see each other.
    private func channel(_ id: String?, in workspace: EmulatedWorkspace) throws -> EmulatedChannel {
        guard let id else { throw EmulatorAPIError("channel_not_found") }
        if let channel = workspace.channel(id) ?? workspace.dm(with: id) { return channel }
        throw EmulatorAPIError("channel_not_found")
    }

    private func exists(_ workspace: EmulatedWorkspace, _ channel: EmulatedChannel, _ ts: String) async -> Bool {
        await state.message(teamID: workspace.id, channel: channel.id, ts: ts) != nil
    }

    private func describe(_ message: EmulatedMessage, _ workspace: EmulatedWorkspace) -> [String: Any] {
        var out: [String: Any] = [
            "type": "message", "text": message.text, "user": message.user, "bot_id": workspace.botID, "ts": message.ts,
        ]
        if let thread = message.threadTS { out["thread_ts"] = thread }
        return out
    }
}
