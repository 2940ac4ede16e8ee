import EnableBotCore
import Foundation
import Logging
import ServiceLifecycle

/// The emulator's memory: the world (saved to a JSON file after every change, so a restart keeps the
/// conversation), the short-lived OAuth codes and sign-in tokens (memory only), and a version that every change
/// bumps, which the chat page waits on.
public actor EmulatorState {
    /// What an authorize page's "Allow" granted, until the app exchanges the code.
    struct Grant: Sendable {
        var teamID: String
        var userID: String
        var scopes: String
        var redirectURI: String
        var issued: Date
    }

    public private(set) var world: World
    public private(set) var version = 0
    public private(set) var deliveries: [DeliveryRecord] = []
    /// Whether the events request URL answered Slack's `url_verification`, and what happened last.
    public private(set) var requestURLVerified = false
    public private(set) var requestURLStatus = "not checked yet"
    private var responseURLs: [String: (teamID: String, channel: String, user: String)] = [:]
    private var installCodes: [String: Grant] = [:]
    private var signInCodes: [String: Grant] = [:]
    private var signInTokens: [String: Grant] = [:]
    private let file: String?
    private let logger: Logger
    private let now: @Sendable () -> Date

    /// Loads `file` if it exists (a missing or unreadable one starts from the seeded workspaces); nil keeps
    /// everything in memory.
    public init(file: String?, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) {
        self.file = file
        self.logger = logger
        self.now = now
        if let file, let data = FileManager.default.contents(atPath: file) {
            do {
                world = try JSONDecoder.emulator.decode(World.self, from: data)
            } catch {
                logger.warning("cannot read \(file) (\(error)); starting from the seeded workspaces")
                world = .seeded()
            }
        } else {
            world = .seeded()
        }
    }

    // MARK: - Changes

    private func changed() {
        version += 1
        guard let file else { return }
        do {
            let directory = (file as NSString).deletingLastPathComponent
            if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            try JSONEncoder.emulator.encode(world).write(to: URL(fileURLWithPath: file), options: .atomic)
        } catch {
            logger.error("cannot save \(file): \(error)")
        }
    }

    /// Waits until the version passes `after` or `timeout` elapses; returns the version then.
    public func waitForChange(after: Int, timeout: Duration) async -> Int {
        let deadline = ContinuousClock.now + timeout
        while version <= after, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
            if Task.isCancelled || Task.isShuttingDownGracefully { break }  // a stopping server does not wait 25 s
        }
        return version
    }

    /// A fresh message timestamp: Slack's `seconds.micros`, strictly increasing.
    private func nextTS() -> String {
        let next = max(now().timeIntervalSince1970, world.lastTS + 0.000_001)
        world.lastTS = (next * 1_000_000).rounded() / 1_000_000
        return String(format: "%.6f", world.lastTS)
    }

    @discardableResult
    public func post(
        teamID: String, channel: String, user: String, text: String, threadTS: String?, isBot: Bool,
        ephemeralTo: String? = nil, streaming: Bool = false
    ) -> EmulatedMessage {
        let message = EmulatedMessage(
            teamID: teamID, channel: channel, ts: nextTS(), threadTS: threadTS, user: user, text: text, isBot: isBot,
            ephemeralTo: ephemeralTo, streaming: streaming
        )
        world.messages.append(message)
        if isBot, let threadTS {
            // Slack clears a thread's "is thinking…" status when the app replies in it.
            world.threads[World.threadKey(team: teamID, channel: channel, threadTS: threadTS)]?.status = ""
        }
        changed()
        return message
    }

    /// Changes a bot message (chat.update, chat.appendStream, chat.stopStream); nil when there is no such message.
    public func editBotMessage(
        teamID: String, channel: String, ts: String, _ edit: (inout EmulatedMessage) -> Void
    ) -> EmulatedMessage? {
        guard let index = world.messages.firstIndex(where: {
            $0.teamID == teamID && $0.channel == channel && $0.ts == ts && $0.isBot && $0.ephemeralTo == nil
        }) else { return nil }
        edit(&world.messages[index])
        changed()
        return world.messages[index]
    }

    public func message(teamID: String, channel: String, ts: String) -> EmulatedMessage? {
        world.messages.first { $0.teamID == teamID && $0.channel == channel && $0.ts == ts }
    }

    public func updateThread(teamID: String, channel: String, threadTS: String, _ edit: (inout AssistantThreadState) -> Void) {
        edit(&world.threads[World.threadKey(team: teamID, channel: channel, threadTS: threadTS), default: AssistantThreadState()])
        changed()
    }

    public func record(_ delivery: DeliveryRecord) {
        deliveries.append(delivery)
        if deliveries.count > 200 { deliveries.removeFirst(deliveries.count - 200) }
        version += 1
    }

    public func setRequestURL(verified: Bool, status: String) {
        requestURLVerified = verified
        requestURLStatus = status
        version += 1
    }

    /// A slash command's `response_url` id, valid for this process's life.
    func issueResponseURL(teamID: String, channel: String, user: String) -> String {
        let id = SecureRandom.token(byteCount: 12)
        responseURLs[id] = (teamID, channel, user)
        return id
    }

    func responseURL(_ id: String) -> (teamID: String, channel: String, user: String)? { responseURLs[id] }

    /// Removes every message and thread state (the chat page's "Clear conversation"); installations stay.
    public func clearMessages(teamID: String) {
        world.messages.removeAll { $0.teamID == teamID }
        world.threads = world.threads.filter { !$0.key.hasPrefix(teamID + "/") }
        changed()
    }

    // MARK: - OAuth

    public func installation(token: String) -> EmulatedInstallation? { world.installations[token] }

    func issueInstallCode(_ grant: Grant) -> String {
        let code = "emu-code-" + SecureRandom.token(byteCount: 12)
        installCodes[code] = grant
        return code
    }

    /// Exchanges an install code (single use, 10 minutes) for a new bot token; the workspace's earlier tokens stop
    /// working, as on a reinstall.
    func redeemInstallCode(_ code: String, redirectURI: String?) -> Result<EmulatedInstallation, EmulatorAPIError> {
        guard let grant = installCodes.removeValue(forKey: code), now().timeIntervalSince(grant.issued) < 600 else {
            return .failure(.init("invalid_code"))
        }
        if let redirectURI, !redirectURI.isEmpty, redirectURI != grant.redirectURI { return .failure(.init("bad_redirect_uri")) }
        let slug = grant.teamID.lowercased()
        let installation = EmulatedInstallation(
            teamID: grant.teamID, botToken: "xoxb-emulator-\(slug)-" + SecureRandom.token(byteCount: 12),
            scopes: grant.scopes, installerUserID: grant.userID, installedAt: now()
        )
        world.installations = world.installations.filter { $0.value.teamID != grant.teamID }
        world.installations[installation.botToken] = installation
        changed()
        return .success(installation)
    }

    /// Uninstalls the app from a workspace: its tokens stop working and it receives no more events.
    @discardableResult
    public func uninstall(teamID: String) -> EmulatedInstallation? {
        let removed = world.installation(teamID: teamID)
        world.installations = world.installations.filter { $0.value.teamID != teamID }
        changed()
        return removed
    }

    func issueSignInCode(_ grant: Grant) -> String {
        let code = "emu-oidc-" + SecureRandom.token(byteCount: 12)
        signInCodes[code] = grant
        return code
    }

    func redeemSignInCode(_ code: String) -> String? {
        guard let grant = signInCodes.removeValue(forKey: code), now().timeIntervalSince(grant.issued) < 600 else { return nil }
        let token = "xoxp-emulator-oidc-" + SecureRandom.token(byteCount: 12)
        signInTokens[token] = grant
        return token
    }

    func signIn(token: String) -> Grant? { signInTokens[token] }
}

/// A Slack Web API `ok:false` answer.
public struct EmulatorAPIError: Error, Equatable, Sendable {
    public var code: String
    public init(_ code: String) { self.code = code }
}

extension JSONEncoder {
    static var emulator: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}

extension JSONDecoder {
    static var emulator: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
