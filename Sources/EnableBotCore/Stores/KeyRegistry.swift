import Foundation

/// How old an encryption key is, for the `KEY_ROTATION_DAYS` warning.
public struct KeyAge: Sendable, Equatable {
    public var keyID: String
    public var isActive: Bool
    public var firstSeenAt: Date
    public var ageDays: Int
    public var rotationDue: Bool
}

/// Remembers when each key id was first seen, since `ENCRYPTION_KEYS` itself carries no dates.
public struct KeyRegistry: Sendable {
    private let database: any Database
    private let now: @Sendable () -> Date

    public init(database: any Database, now: @escaping @Sendable () -> Date = Date.init) {
        self.database = database
        self.now = now
    }

    /// Records the configured ids (first one active); existing rows keep their first-seen time.
    public func register(keyIDs: [String]) async throws {
        let at = now()
        for (index, keyID) in keyIDs.enumerated() {
            try await database.query(
                "INSERT INTO encryption_keys (key_id, first_seen_at, activated_at) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING",
                [.text(keyID), .from(at), index == 0 ? .from(at) : .null]
            )
            if index == 0 {
                try await database.query(
                    "UPDATE encryption_keys SET activated_at = $2 WHERE key_id = $1 AND activated_at IS NULL",
                    [.text(keyID), .from(at)]
                )
            }
        }
    }

    /// The configured keys' ages, active first. The active key is due once it has been active `rotationDays`.
    public func ages(keyIDs: [String], rotationDays: Int) async throws -> [KeyAge] {
        let at = now()
        var result: [KeyAge] = []
        for (index, keyID) in keyIDs.enumerated() {
            let row = try await database.queryFirst(
                "SELECT first_seen_at, activated_at FROM encryption_keys WHERE key_id = $1", [.text(keyID)]
            )
            let firstSeen = row?.optionalDate("first_seen_at") ?? at
            let since = row?.optionalDate("activated_at") ?? firstSeen
            let days = max(0, Int(at.timeIntervalSince(since) / 86_400))
            result.append(KeyAge(
                keyID: keyID, isActive: index == 0, firstSeenAt: firstSeen, ageDays: days,
                rotationDue: index == 0 && days >= rotationDays
            ))
        }
        return result
    }
}
