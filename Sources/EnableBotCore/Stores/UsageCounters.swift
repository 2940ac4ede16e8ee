import Foundation

/// Per-tenant daily counts shown on the dashboard; the model tokens are what `TOKEN_BUDGET_PER_TENANT` counts.
public struct Usage: Sendable, Equatable {
    public var events: Int64 = 0
    public var llmCalls: Int64 = 0
    public var rateLimited: Int64 = 0
    public var errors: Int64 = 0
    public var promptTokens: Int64 = 0
    public var completionTokens: Int64 = 0

    public init(
        events: Int64 = 0, llmCalls: Int64 = 0, rateLimited: Int64 = 0, errors: Int64 = 0,
        promptTokens: Int64 = 0, completionTokens: Int64 = 0
    ) {
        self.events = events
        self.llmCalls = llmCalls
        self.rateLimited = rateLimited
        self.errors = errors
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }

    /// Prompt and completion tokens together.
    public var tokens: Int64 { promptTokens + completionTokens }

    public mutating func add(_ counter: UsageCounters.Counter, _ amount: Int64) {
        switch counter {
        case .events: events += amount
        case .llmCalls: llmCalls += amount
        case .rateLimited: rateLimited += amount
        case .errors: errors += amount
        case .promptTokens: promptTokens += amount
        case .completionTokens: completionTokens += amount
        }
    }

    public mutating func add(_ other: Usage) {
        events += other.events
        llmCalls += other.llmCalls
        rateLimited += other.rateLimited
        errors += other.errors
        promptTokens += other.promptTokens
        completionTokens += other.completionTokens
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
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
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
                    INSERT INTO usage_counters (tenant_id, day, events, llm_calls, rate_limited, errors, prompt_tokens, completion_tokens)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                    ON CONFLICT (tenant_id, day) DO UPDATE SET events = usage_counters.events + excluded.events,
                        llm_calls = usage_counters.llm_calls + excluded.llm_calls,
                        rate_limited = usage_counters.rate_limited + excluded.rate_limited,
                        errors = usage_counters.errors + excluded.errors,
                        prompt_tokens = usage_counters.prompt_tokens + excluded.prompt_tokens,
                        completion_tokens = usage_counters.completion_tokens + excluded.completion_tokens
                    """,
                    [.text(key.tenantID), .text(key.day), .integer(usage.events), .integer(usage.llmCalls),
                     .integer(usage.rateLimited), .integer(usage.errors), .integer(usage.promptTokens),
                     .integer(usage.completionTokens)]
                )
            }
        }
    }

    /// Totals for days from `since` (a `yyyy-MM-dd` day) to today.
    public func usage(tenantID: String, sinceDay since: String) async throws -> Usage {
        guard let row = try await database.queryFirst(
            """
            SELECT COALESCE(SUM(events), 0) AS events, COALESCE(SUM(llm_calls), 0) AS llm_calls,
                COALESCE(SUM(rate_limited), 0) AS rate_limited, COALESCE(SUM(errors), 0) AS errors,
                COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens, COALESCE(SUM(completion_tokens), 0) AS completion_tokens
            FROM usage_counters WHERE tenant_id = $1 AND day >= $2
            """,
            [.text(tenantID), .text(since)]
        ) else { return Usage() }
        return Usage(
            events: row.optionalInt64("events") ?? 0, llmCalls: row.optionalInt64("llm_calls") ?? 0,
            rateLimited: row.optionalInt64("rate_limited") ?? 0, errors: row.optionalInt64("errors") ?? 0,
            promptTokens: row.optionalInt64("prompt_tokens") ?? 0, completionTokens: row.optionalInt64("completion_tokens") ?? 0
        )
    }

    public func today(tenantID: String) async throws -> Usage {
        try await usage(tenantID: tenantID, sinceDay: Self.day(now()))
    }

    public func thisMonth(tenantID: String) async throws -> Usage {
        try await usage(tenantID: tenantID, sinceDay: Self.firstDayOfMonth(Self.day(now())))
    }

    /// The model tokens (prompt and completion) a tenant used in the UTC month that `day` (`yyyy-MM-dd`) is in,
    /// as written so far: what `TOKEN_BUDGET_PER_TENANT` is compared with.
    public func monthTokens(tenantID: String, day: String) async throws -> Int64 {
        let month = Self.firstDayOfMonth(day)
        let row = try await database.queryFirst(
            """
            SELECT COALESCE(SUM(prompt_tokens), 0) + COALESCE(SUM(completion_tokens), 0) AS tokens
            FROM usage_counters WHERE tenant_id = $1 AND day >= $2 AND day <= $3
            """,
            [.text(tenantID), .text(month), .text(String(month.prefix(8)) + "31")]
        )
        return row?.optionalInt64("tokens") ?? 0
    }

    /// `yyyy-MM-01` of a `yyyy-MM-dd` day.
    public static func firstDayOfMonth(_ day: String) -> String { String(day.prefix(8)) + "01" }

    /// The UTC calendar day, `yyyy-MM-dd`.
    /// Plain arithmetic (the proleptic Gregorian calendar's days from civil, after Howard Hinnant): it runs several
    /// times per answer, and Foundation's `Calendar` with `String(format:)` cost a fortieth of an answer's CPU.
    public static func day(_ date: Date) -> String {
        let days = Int((date.timeIntervalSince1970 / 86_400).rounded(.down)) + 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // March is 0
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return padded(year, 4) + "-" + padded(month, 2) + "-" + padded(day, 2)
    }

    private static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
