import Foundation

/// Per-tenant daily counts shown on the dashboard.
public struct Usage: Sendable, Equatable {
    public var events: Int64 = 0
    public var llmCalls: Int64 = 0
    public var rateLimited: Int64 = 0
    public var errors: Int64 = 0

    public init(events: Int64 = 0, llmCalls: Int64 = 0, rateLimited: Int64 = 0, errors: Int64 = 0) {
        self.events = events
        self.llmCalls = llmCalls
        self.rateLimited = rateLimited
        self.errors = errors
    }
}

/// A tenant's counters of one UTC day.
public struct UsageKey: Sendable, Hashable {
    public var tenantID: String
    public var day: String

    public init(tenantID: String, day: String) {
        self.tenantID = tenantID
        self.day = day
    }
}

public struct UsageCounters: Sendable {
    public enum Counter: String, Sendable, CaseIterable {
        case events
        case llmCalls = "llm_calls"
        case rateLimited = "rate_limited"
        case errors
    }

    private let database: any Database
    private let now: @Sendable () -> Date

    public init(database: any Database, now: @escaping @Sendable () -> Date = Date.init) {
        self.database = database
        self.now = now
    }

    public func increment(tenantID: String, _ counter: Counter, by amount: Int64 = 1) async throws {
        let column = counter.rawValue
        try await database.query(
            """
            INSERT INTO usage_counters (tenant_id, day, \(column)) VALUES ($1, $2, $3)
            ON CONFLICT (tenant_id, day) DO UPDATE SET \(column) = usage_counters.\(column) + excluded.\(column)
            """,
            [.text(tenantID), .text(Self.day(now())), .integer(amount)]
        )
    }

    /// Adds many increments in one transaction: one upsert per tenant and day (what `UsageRecorder` flushes).
    public func add(_ totals: [UsageKey: Usage]) async throws {
        guard !totals.isEmpty else { return }
        try await database.transaction { connection in
            for (key, usage) in totals {
                try connection.query(
                    """
                    INSERT INTO usage_counters (tenant_id, day, events, llm_calls, rate_limited, errors)
                    VALUES ($1, $2, $3, $4, $5, $6)
                    ON CONFLICT (tenant_id, day) DO UPDATE SET events = usage_counters.events + excluded.events,
                        llm_calls = usage_counters.llm_calls + excluded.llm_calls,
                        rate_limited = usage_counters.rate_limited + excluded.rate_limited,
                        errors = usage_counters.errors + excluded.errors
                    """,
                    [.text(key.tenantID), .text(key.day), .integer(usage.events), .integer(usage.llmCalls),
                     .integer(usage.rateLimited), .integer(usage.errors)]
                )
            }
        }
    }

    /// Totals for days from `since` (a `yyyy-MM-dd` day) to today.
    public func usage(tenantID: String, sinceDay since: String) async throws -> Usage {
        guard let row = try await database.queryFirst(
            """
            SELECT COALESCE(SUM(events), 0) AS events, COALESCE(SUM(llm_calls), 0) AS llm_calls,
                COALESCE(SUM(rate_limited), 0) AS rate_limited, COALESCE(SUM(errors), 0) AS errors
            FROM usage_counters WHERE tenant_id = $1 AND day >= $2
            """,
            [.text(tenantID), .text(since)]
        ) else { return Usage() }
        return Usage(
            events: row.optionalInt64("events") ?? 0, llmCalls: row.optionalInt64("llm_calls") ?? 0,
            rateLimited: row.optionalInt64("rate_limited") ?? 0, errors: row.optionalInt64("errors") ?? 0
        )
    }

    public func today(tenantID: String) async throws -> Usage {
        try await usage(tenantID: tenantID, sinceDay: Self.day(now()))
    }

    public func thisMonth(tenantID: String) async throws -> Usage {
        try await usage(tenantID: tenantID, sinceDay: String(Self.day(now()).prefix(8)) + "01")
    }

    /// The UTC calendar day, `yyyy-MM-dd`.
    public static func day(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
    }
}
