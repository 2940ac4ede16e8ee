import Foundation

/// A person (or the app's bot user) in an emulated workspace.
public struct EmulatedUser: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var realName: String
    public var isAdmin: Bool
    public var isBot: Bool
}

/// A channel, or a direct message between one person and the bot (`imUser`).
public struct EmulatedChannel: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// For a DM: the person on the other side of the bot.
    public var imUser: String?

    public var isIM: Bool { imUser != nil }
}

/// One emulated Slack workspace: its people, its channels and the app's bot user (which exists before any install,
/// so a message can mention it; it only answers once the workspace installed the app).
public struct EmulatedWorkspace: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var domain: String
    public var users: [EmulatedUser]
    public var channels: [EmulatedChannel]
    public var botUserID: String
    public var botID: String

    public func user(_ id: String) -> EmulatedUser? { users.first { $0.id == id } }
    public func channel(_ id: String) -> EmulatedChannel? { channels.first { $0.id == id || "#" + $0.name == id } }
    public var admin: EmulatedUser? { users.first { $0.isAdmin && !$0.isBot } }
    public var people: [EmulatedUser] { users.filter { !$0.isBot } }
    public func dm(with user: String) -> EmulatedChannel? { channels.first { $0.imUser == user } }
}

/// The app installed in a workspace: the bot token oauth.v2.access issued identifies it.
public struct EmulatedInstallation: Codable, Sendable, Equatable {
    public var teamID: String
    public var botToken: String
    public var scopes: String
    public var installerUserID: String
    public var installedAt: Date
}

/// A message as the chat page shows it.
public struct EmulatedMessage: Codable, Sendable, Equatable {
    public var teamID: String
    public var channel: String
    public var ts: String
    /// The thread's root `ts` for a reply; nil for a message outside any thread.
    public var threadTS: String?
    /// The author: a person's id, or the workspace's bot user.
    public var user: String
    public var text: String
    public var isBot: Bool
    /// Shown only to this user (chat.postEphemeral, a slash command's ephemeral answer).
    public var ephemeralTo: String?
    /// Between chat.startStream and chat.stopStream.
    public var streaming: Bool = false
    public var edited: Bool = false

    public var isReply: Bool { threadTS != nil && threadTS != ts }
}

/// What the assistant.threads methods set on a thread.
public struct AssistantThreadState: Codable, Sendable, Equatable {
    public struct Prompt: Codable, Sendable, Equatable {
        public var title: String
        public var message: String
    }

    public var status: String = ""
    public var title: String?
    public var promptsTitle: String?
    public var prompts: [Prompt] = []
}

/// One attempt to deliver an event or a command to the app, as the chat page lists it.
public struct DeliveryRecord: Codable, Sendable, Equatable {
    public var teamID: String
    public var kind: String
    public var attempt: Int
    public var outcome: String
    public var at: Date
}

/// Everything the emulator keeps, saved as one JSON file.
public struct World: Codable, Sendable {
    public var workspaces: [EmulatedWorkspace]
    /// By bot token.
    public var installations: [String: EmulatedInstallation] = [:]
    public var messages: [EmulatedMessage] = []
    /// By `team/channel/thread_ts`.
    public var threads: [String: AssistantThreadState] = [:]
    public var lastTS: Double = 0

    public func workspace(_ id: String) -> EmulatedWorkspace? { workspaces.first { $0.id == id } }

    public func installation(teamID: String) -> EmulatedInstallation? {
        installations.values.filter { $0.teamID == teamID }.max { $0.installedAt < $1.installedAt }
    }

    static func threadKey(team: String, channel: String, threadTS: String) -> String { "\(team)/\(channel)/\(threadTS)" }

    /// Two workspaces, each with an admin, a member, #general, #random and a DM with the bot for each person.
    public static func seeded() -> World {
        func workspace(_ id: String, _ name: String, _ slug: String, admin: (String, String), member: (String, String)) -> EmulatedWorkspace {
            let adminID = "U0\(slug)ADMIN", memberID = "U0\(slug)MEMBER", botID = "U0\(slug)BOT"
            return EmulatedWorkspace(
                id: id, name: name, domain: name.lowercased(),
                users: [
                    EmulatedUser(id: adminID, name: admin.0, realName: admin.1, isAdmin: true, isBot: false),
                    EmulatedUser(id: memberID, name: member.0, realName: member.1, isAdmin: false, isBot: false),
                    EmulatedUser(id: botID, name: "enablebot", realName: "EnableBot", isAdmin: false, isBot: true),
                ],
                channels: [
                    EmulatedChannel(id: "C0\(slug)GENERAL", name: "general"),
                    EmulatedChannel(id: "C0\(slug)RANDOM", name: "random"),
                    EmulatedChannel(id: "D0\(slug)ADMIN", name: "EnableBot", imUser: adminID),
                    EmulatedChannel(id: "D0\(slug)MEMBER", name: "EnableBot", imUser: memberID),
                ],
                botUserID: botID, botID: "B0\(slug)BOT"
            )
        }
        return World(workspaces: [
            workspace("T0ACME", "Acme", "ACME", admin: ("ada", "Ada Admin"), member: ("max", "Max Member")),
            workspace("T0GLOBEX", "Globex", "GLOBEX", admin: ("hank", "Hank Scorpio"), member: ("homer", "Homer Simpson")),
        ])
    }
}
