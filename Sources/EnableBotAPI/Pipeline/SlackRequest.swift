import EnableBotCore

/// A verified Slack request, parsed once.
enum SlackInbound: Sendable {
    case event(SlackEventEnvelope)
    case command(SlackCommand)
}

/// What the handlers get from the pipeline: the request as Slack meant it and the installation it belongs to.
struct SlackRequest: Sendable {
    var inbound: SlackInbound
    var authorized: AuthorizedInstallation
}

/// The fields of a Slack request's log line, filled in as the pipeline learns them.
struct SlackOutcome {
    var result = ""
    var eventID: String?
    var tenantID: String?
    var userID: String?
    var eventType: String?
    var command: String?
}
