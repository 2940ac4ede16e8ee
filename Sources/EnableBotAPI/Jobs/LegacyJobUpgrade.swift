import EnableBotCore
import Logging

/// Jobs queued by versions before the ack path decided them hold Slack's whole envelope (`slack.event`), the legacy
/// verification token included. Before the server starts, each is rewritten as the `AnswerJob` the ack path stores
/// today, so the token leaves the database and the worker never parses Slack's JSON. One that cannot be answered
/// is emptied and marked dead.
enum LegacyJobUpgrade {
    static func run(database: any Database, jobs: JobQueue, logger: Logger) async throws {
        let legacy = try await database.query(
            "SELECT id, tenant_id, payload FROM jobs WHERE kind = $1 AND status = 'queued'", [.text(BotJob.Kind.legacyEvent.rawValue)]
        )
        for row in legacy {
            let id = try row.int64("id")
            let envelope = try? SlackEventEnvelope(json: try row.string("payload"))
            if let event = envelope?.event, let eventID = envelope?.eventID,
               let job = AnswerJob(eventID: eventID, tenantID: try row.string("tenant_id"), event: event) {
                try await jobs.rewrite(id, kind: BotJob.Kind.answer.rawValue, payload: job.jsonPayload)
            } else {
                try await database.query(
                    "UPDATE jobs SET payload = '{}', status = 'dead', lease_token = NULL, last_error = $2 WHERE id = $1",
                    [.integer(id), .text("a stored Slack event that cannot be answered")]
                )
                logger.error("stored event cannot be answered; dropped", metadata: ["job_id": "\(id)"])
            }
        }
        if !legacy.isEmpty { logger.info("upgraded jobs queued by an earlier version", metadata: ["jobs": "\(legacy.count)"]) }
    }
}
