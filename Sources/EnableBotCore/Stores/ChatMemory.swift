import Foundation

/// One remembered turn of a thread.
public struct ChatTurn: Sendable, Equatable {
    public enum Role: String, Sendable {
        case user
        case assistant
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
}

/// A question and its answer, to be kept as two turns of their thread.
public struct ChatExchange: Sendable {
    public var tenantID: String
    public var channelID: String
    public var threadTS: String
    public var question: String
    public var answer: String
    public var at: Date

    public init(tenantID: String, channelID: String, threadTS: String, question: String, answer: String, at: Date) {
        self.tenantID = tenantID
        self.channelID = channelID
        self.threadTS = threadTS
        self.question = question
        self.answer = answer
        self.at = at
    }

    /// $1 tenant, $2 channel, $3 thread, $4 question, $5 answer, $6 time.
    var binds: [SQLValue] { [.text(tenantID), .text(channelID), .text(threadTS), .text(question), .text(answer), .from(at)] }
}

/// The earlier turns of each thread, per tenant, channel and thread, kept by EnableBot itself
/// (rebuilding them from `conversations.replies` would run into Slack's rate limits).
public struct ChatMemory: Sendable {
    private let database: any Database
    private let now: @Sendable () -> Date

    public init(database: any Database, now: @escaping @Sendable () -> Date = Date.init) {
        self.database = database
        self.now = now
    }

    public func append(tenantID: String, channelID: String, threadTS: String, turn: ChatTurn) async throws {
        try await database.query(
            """
            INSERT INTO chat_memory (tenant_id, channel_id, thread_ts, role, content, created_at)
            VALUES ($1, $2, $3, $4, $5, $6)
            """,
            [.text(tenantID), .text(channelID), .text(threadTS), .text(turn.role.rawValue), .text(turn.content), .from(now())]
        )
    }

    /// A question and its answer in one statement, inside a caller's transaction (the job's completion).
    public static func appendExchange(on connection: any SQLConnection, _ exchange: ChatExchange) throws {
        try connection.query(
            """
            INSERT INTO chat_memory (tenant_id, channel_id, thread_ts, role, content, created_at)
            VALUES ($1, $2, $3, 'user', $4, $6), ($1, $2, $3, 'assistant', $5, $6)
            """,
            exchange.binds
        )
    }

    /// Every partition (PostgreSQL) and `chat_memory_thread` answer this with one index range read backwards.
    static let recentSQL = """
        SELECT role, content FROM chat_memory WHERE tenant_id = $1 AND channel_id = $2 AND thread_ts = $3
        ORDER BY id DESC LIMIT $4
        """

    /// The latest turns, oldest first, at most `maxTurns` and together at most `maxCharacters`.
    public func recent(tenantID: String, channelID: String, threadTS: String, maxTurns: Int, maxCharacters: Int) async throws -> [ChatTurn] {
        let rows = try await database.query(
            Self.recentSQL,
            [.text(tenantID), .text(channelID), .text(threadTS), .integer(Int64(max(0, maxTurns)))]
        )
        var turns: [ChatTurn] = []
        var budget = maxCharacters
        for row in rows {
            let content = try row.string("content")
            guard content.count <= budget else { break }
            budget -= content.count
            turns.append(ChatTurn(role: ChatTurn.Role(rawValue: try row.string("role")) ?? .user, content: content))
        }
        return turns.reversed()
    }

    /// Moves turns older than `cutoff` into `chat_memory_archive` (or deletes them when `archive` is false), in
    /// transactions of about `batchSize` turns, so no statement holds its locks for long. Returns how many turns left
    /// the live table.
    public func expire(olderThan cutoff: Date, archive: Bool, batchSize: Int = Retention.defaultBatchSize) async throws -> Int {
        let at = now()
        return try await database.inBatches { try Self.expireBatch(on: $0, olderThan: cutoff, archive: archive, at: at, limit: batchSize) }
    }

    /// One batch of `expire`: the oldest `limit` turns before `cutoff` (and any that share the last one's timestamp,
    /// so a batch always makes progress), found and removed through `chat_memory_created`. Call inside a transaction.
    static func expireBatch(on connection: any SQLConnection, olderThan cutoff: Date, archive: Bool, at: Date, limit: Int) throws -> Int {
        let edge = try connection.query(
            "SELECT created_at FROM chat_memory WHERE created_at < $1 ORDER BY created_at LIMIT 1 OFFSET $2",
            [.from(cutoff), .integer(Int64(max(1, limit) - 1))]
        ).first?.int64("created_at") ?? Int64.max
        let range: [SQLValue] = [.from(cutoff), .integer(edge)]
        if archive {
            try connection.query(
                """
                INSERT INTO chat_memory_archive (id, tenant_id, channel_id, thread_ts, role, content, created_at, archived_at)
                SELECT id, tenant_id, channel_id, thread_ts, role, content, created_at, $3 FROM chat_memory
                WHERE created_at < $1 AND created_at <= $2
                ON CONFLICT (id) DO NOTHING
                """,
                range + [.from(at)]
            )
        }
        return try connection.run("DELETE FROM chat_memory WHERE created_at < $1 AND created_at <= $2", range).affectedRows
    }

    /// Deletes archived turns archived before `cutoff`, `batchSize` at a time; returns how many.
    public func purgeArchive(archivedBefore cutoff: Date, batchSize: Int = Retention.defaultBatchSize) async throws -> Int {
        try await database.inBatches { try Self.purgeArchiveBatch(on: $0, archivedBefore: cutoff, limit: batchSize) }
    }

    static func purgeArchiveBatch(on connection: any SQLConnection, archivedBefore cutoff: Date, limit: Int) throws -> Int {
        try connection.run(
            """
            DELETE FROM chat_memory_archive WHERE id IN (
                SELECT id FROM chat_memory_archive WHERE archived_at < $1 ORDER BY archived_at LIMIT $2)
            """,
            [.from(cutoff), .integer(Int64(limit))]
        ).affectedRows
    }
}
