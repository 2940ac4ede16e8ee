import EnableBotCore
import Foundation
import NIOConcurrencyHelpers

/// The pipeline's authorization step (Bolt's `authorize`): finds the installation an incoming request belongs to,
/// with a few seconds of memory so the ack path does not read the database for every event of a busy tenant.
/// Staleness is harmless: the worker reads the installation again before doing anything, and lifecycle events
/// drop the entry at once.
final class InstallationAuthorizer: Sendable {
    private struct Key: Hashable {
        var teamID: String?
        var enterpriseID: String?
        var isEnterpriseInstall: Bool
    }

    private struct Entry {
        var found: AuthorizedInstallation?
        var expires: ContinuousClock.Instant
    }

    private let store: InstallationStore
    private let ttl: Duration
    private let missTTL: Duration
    private let cache = NIOLockedValueBox<[Key: Entry]>([:])

    init(store: InstallationStore, ttl: Duration = .seconds(5), missTTL: Duration = .seconds(1)) {
        self.store = store
        self.ttl = ttl
        self.missTTL = missTTL
    }

    func find(teamID: String?, enterpriseID: String?, isEnterpriseInstall: Bool) async throws -> AuthorizedInstallation? {
        let key = Key(teamID: teamID, enterpriseID: enterpriseID, isEnterpriseInstall: isEnterpriseInstall)
        let now = ContinuousClock.now
        if let entry = cache.withLockedValue({ $0[key] }), entry.expires > now { return entry.found }
        let found = try await store.authorize(teamID: teamID, enterpriseID: enterpriseID, isEnterpriseInstall: isEnterpriseInstall)
            .map(AuthorizedInstallation.init)
        cache.withLockedValue { cache in
            if cache.count > 50_000 { cache.removeAll(keepingCapacity: true) }
            cache[key] = Entry(found: found, expires: now + (found == nil ? missTTL : ttl))
        }
        return found
    }

    /// Forgets everything about `tenantID` (after an uninstall or revocation).
    func invalidate(tenantID: String) {
        cache.withLockedValue { cache in
            cache = cache.filter {
                $0.value.found?.installation.tenantID != tenantID && $0.key.teamID != tenantID && $0.key.enterpriseID != tenantID
            }
        }
    }
}

/// An installation as the ack path sees it, shared by reference: every request of a tenant within the cache's few
/// seconds gets the same one, instead of a copy of its dozen strings.
final class AuthorizedInstallation: Sendable {
    let installation: Installation

    init(_ installation: Installation) {
        self.installation = installation
    }
}
