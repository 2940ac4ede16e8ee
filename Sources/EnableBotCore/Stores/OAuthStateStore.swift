import Foundation

/// Why a state was refused. Each maps to its own failure page.
public enum OAuthStateOutcome: Sendable, Equatable {
    case valid
    case unknown
    case expired
    case alreadyUsed
}

/// Server-side OAuth `state` values, so any web replica can finish a flow any other replica started.
/// A state is single-use: consuming it is one conditional UPDATE, so of many concurrent callbacks exactly one wins.
public struct OAuthStateStore: Sendable {
    public static let lifetime: TimeInterval = 600

    private let database: any Database
    private let now: @Sendable () -> Date

    public init(database: any Database, now: @escaping @Sendable () -> Date = Date.init) {
        self.database = database
        self.now = now
    }

    /// Issues a fresh state of 256 random bits for `purpose` ("install" or "signin").
    public func issue(purpose: String) async throws -> String {
        let state = SecureRandom.token(byteCount: 32)
        let created = now()
        try await database.query(
            "INSERT INTO oauth_states (state, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            [.text(state), .text(purpose), .from(created), .from(created.addingTimeInterval(Self.lifetime))]
        )
        return state
    }

    /// Marks the state used if it is known, unused, unexpired and of this purpose.
    public func consume(_ state: String, purpose: String) async throws -> OAuthStateOutcome {
        let at = now()
        let claimed = try await database.run(
            """
            UPDATE oauth_states SET consumed_at = $3
            WHERE state = $1 AND purpose = $2 AND consumed_at IS NULL AND expires_at > $3
            """,
            [.text(state), .text(purpose), .from(at)]
        )
        if claimed.affectedRows == 1 { return .valid }
        guard let row = try await database.queryFirst(
            "SELECT consumed_at, expires_at FROM oauth_states WHERE state = $1 AND purpose = $2",
            [.text(state), .text(purpose)]
        ) else { return .unknown }
        if row.optionalInt64("consumed_at") != nil { return .alreadyUsed }
        return .expired
    }

    /// Deletes states that expired more than a day ago; returns how many.
    @discardableResult
    public func purgeExpired() async throws -> Int {
        try await database.run(
            "DELETE FROM oauth_states WHERE expires_at < $1", [.from(now().addingTimeInterval(-86_400))]
        ).affectedRows
    }
}
