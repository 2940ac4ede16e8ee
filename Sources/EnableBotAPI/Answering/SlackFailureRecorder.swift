import EnableBotCore
import Foundation
import Logging
import Metrics

/// What happens when Slack refuses a call for good (`ok:false` or a 4xx): Slack's code is counted, logged and audited
/// on the tenant, and a tenant whose token no longer works is deactivated. The same steps as
/// `AnswerHandler.slackFailed`, kept here so handlers other than the answer's share them rather than copy them.
struct SlackFailureRecorder: Sendable {
    let stores: Stores
    let usage: UsageRecorder

    func record(_ error: SlackAPIError, tenantID: String, log: Logger) async throws {
        Counter(label: "slack_api_errors_total", dimensions: [("method", error.method), ("code", error.code)]).increment()
        log.error("Slack refused the call", metadata: ["slack_method": "\(error.method)", "slack_error": "\(error.code)"])
        usage.record(tenantID: tenantID, .errors)
        try await stores.installations.recordError(tenantID: tenantID, error: "\(error.method): \(error.code)")
        try await stores.auditLog.record(
            tenantID: tenantID, actor: "system", action: "slack_error", detail: "\(error.method): \(error.code)"
        )
        if error.revokesInstallation {
            try await stores.installations.setStatus(tenantID: tenantID, status: .inactive)
            try await stores.auditLog.record(
                tenantID: tenantID, actor: "system", action: "installation_deactivated", detail: "Slack answered \(error.code)"
            )
            log.warning("installation marked inactive", metadata: ["slack_error": "\(error.code)"])
        }
    }
}
