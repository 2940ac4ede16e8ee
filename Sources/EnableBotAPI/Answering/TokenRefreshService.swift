import EnableBotCore
import Foundation
import Logging
import ServiceLifecycle

/// Refreshes rotating bot tokens ahead of their expiry, so a reply rarely waits for a refresh. Jobs that find a
/// token about to expire refresh it themselves through the same single-flight `BotTokenProvider`.
struct TokenRefreshService: Service {
    let installations: InstallationStore
    let tokens: BotTokenProvider
    let now: @Sendable () -> Date
    let logger: Logger
    let startup: StartupGate
    var interval: Duration = .seconds(60)

    func run() async throws {
        guard await startup.wait() else { return }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let margin = BotTokenProvider.refreshMargin * 2
                    for tenant in try await installations.tenantsWithTokensExpiring(before: now().addingTimeInterval(margin)) {
                        do { _ = try await tokens.refresh(tenantID: tenant, margin: margin) } catch {
                            logger.warning("token refresh failed", metadata: ["tenant_id": "\(tenant)", "error": "\(error)"])
                        }
                    }
                } catch {
                    logger.error("cannot list expiring tokens", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
