import Foundation

/// Where the user was in Slack while an assistant thread was open: the channel they had in view, its team and
/// enterprise (Slack's `assistant_thread.context`). Each part may be absent (Slack sends an empty context when the
/// user is not in a channel).
public struct AssistantThreadContext: Sendable, Equatable {
    public var channelID: String?
    public var teamID: String?
    public var enterpriseID: String?

    public init(channelID: String? = nil, teamID: String? = nil, enterpriseID: String? = nil) {
        self.channelID = channelID
        self.teamID = teamID
        self.enterpriseID = enterpriseID
    }
}

/// One stored assistant thread.
public struct AssistantThreadRecord: Sendable, Equatable {
    public var tenantID: String
    /// The DM channel between the user and the app that holds the thread.
    public var channelID: String
    public var threadTS: String
    /// Who opened the thread.
    public var userID: String
    public var context: AssistantThreadContext
    /// When EnableBot's greeting was posted in the thread; nil: not yet.
    public var greetedAt: Date?
    /// The last time Slack told us about the thread (started, context changed).
    public var updatedAt: Date

    public init(
        tenantID: String, channelID: String, threadTS: String, userID: String, context: AssistantThreadContext,
        greetedAt: Date?, updatedAt: Date
    ) {
        self.tenantID = tenantID
        self.channelID = channelID
        self.threadTS = threadTS
        self.userID = userID
        self.context = context
        self.greetedAt = greetedAt
        self.updatedAt = updatedAt
    }
}

/// Slack's assistant threads, per tenant, DM channel and thread: who opened each and the context Slack last
/// reported for it, so that answering in the thread can use the channel the user is looking at. Rows untouched for
/// as long as chat memory is kept are deleted by `Retention`.
public struct AssistantThreads: Sendable {
    private let database: any Database
    private let now: @Sendable () -> Date

    public init(database: any Database, now: @escaping @Sendable () -> Date = Date.init) {
        self.database = database
        self.now = now
    }

    /// Records the thread, or updates it: the user and the context are overwritten with what Slack sent last
    /// (`assistant_thread_context_changed` replaces the context, an absent part included), `updated_at` is now, and
    /// whether it was greeted is kept.
    public func save(
        tenantID: String, channelID: String, threadTS: String, userID: String, context: AssistantThreadContext
    ) async throws {
        try await database.query(
            """
            INSERT INTO assistant_threads (tenant_id, channel_id, thread_ts, user_id, context_channel_id, context_team_id,
                context_enterprise_id, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (tenant_id, channel_id, thread_ts) DO UPDATE SET
                user_id = excluded.user_id, context_channel_id = excluded.context_channel_id,
                context_team_id = excluded.context_team_id, context_enterprise_id = excluded.context_enterprise_id,
                updated_at = excluded.updated_at
            """,
            [.text(tenantID), .text(channelID), .text(threadTS), .text(userID), .from(context.channelID),
             .from(context.teamID), .from(context.enterpriseID), .from(now())]
        )
    }

    /// The context Slack last reported for the thread; nil when the thread is not known (never started, or expired).
    public func context(tenantID: String, channelID: String, threadTS: String) async throws -> AssistantThreadContext? {
        try await find(tenantID: tenantID, channelID: channelID, threadTS: threadTS)?.context
    }

    /// The stored thread, or nil.
    public func find(tenantID: String, channelID: String, threadTS: String) async throws -> AssistantThreadRecord? {
        guard let row = try await database.queryFirst(
            """
            SELECT tenant_id, channel_id, thread_ts, user_id, context_channel_id, context_team_id, context_enterprise_id,
                greeted_at, updated_at
            FROM assistant_threads WHERE tenant_id = $1 AND channel_id = $2 AND thread_ts = $3
            """,
            [.text(tenantID), .text(channelID), .text(threadTS)]
        ) else { return nil }
        return AssistantThreadRecord(
            tenantID: try row.string("tenant_id"), channelID: try row.string("channel_id"), threadTS: try row.string("thread_ts"),
            userID: try row.string("user_id"),
            context: AssistantThreadContext(
                channelID: row.optionalString("context_channel_id"), teamID: row.optionalString("context_team_id"),
                enterpriseID: row.optionalString("context_enterprise_id")
            ),
            greetedAt: row.optionalDate("greeted_at"), updatedAt: try row.date("updated_at")
        )
    }

    /// Notes that the greeting was posted in the thread. Returns false when the thread is not stored.
    @discardableResult
    public func markGreeted(tenantID: String, channelID: String, threadTS: String) async throws -> Bool {
        try await database.run(
            "UPDATE assistant_threads SET greeted_at = $4 WHERE tenant_id = $1 AND channel_id = $2 AND thread_ts = $3",
            [.text(tenantID), .text(channelID), .text(threadTS), .from(now())]
        ).affectedRows > 0
    }

    /// Deletes every thread of a tenant; returns how many.
    @discardableResult
    public func deleteAll(tenantID: String) async throws -> Int {
        try await database.run("DELETE FROM assistant_threads WHERE tenant_id = $1", [.text(tenantID)]).affectedRows
    }

    /// Retention: up to `limit` threads last touched before `cutoff`, found through `assistant_threads_updated`.
    /// Call inside a transaction.
    static func expireBatch(on connection: any SQLConnection, olderThan cutoff: Date, limit: Int) throws -> Int {
        try connection.run(
            """
            DELETE FROM assistant_threads WHERE (tenant_id, channel_id, thread_ts) IN (
                SELECT tenant_id, channel_id, thread_ts FROM assistant_threads WHERE updated_at < $1 ORDER BY updated_at LIMIT $2)
            """,
            [.from(cutoff), .integer(Int64(limit))]
        ).affectedRows
    }
}
