import EnableBotCore
import Hummingbird
import NIOConcurrencyHelpers

/// The request context of enablebot-api: what each step of the Slack pipeline learned, for the steps after it.
public struct SlackRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The raw body, read once within `MAX_BODY_BYTES` (`ReadSlackBody`).
    var body: [UInt8] = []
    /// The request as Slack meant it (`ParseSlackRequest`).
    var inbound: SlackInbound?
    /// The installation it belongs to (`Authorize`).
    var installation: Installation?
    /// What became of the request, for its one log line. Shared by reference: the log step wraps the others.
    let outcome = SlackOutcome()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}

/// A verified Slack request, parsed once.
enum SlackInbound: Sendable {
    case event(SlackEventEnvelope)
    case command(SlackCommand)
}

/// The fields of a Slack request's log line, filled in as the pipeline learns them. One request's task writes and
/// then reads it, so a lock is only a formality; it keeps the type `Sendable`.
final class SlackOutcome: Sendable {
    struct Fields {
        var result = ""
        var eventID: String?
        var tenantID: String?
        var userID: String?
        var eventType: String?
        var command: String?
    }

    private let box = NIOLockedValueBox(Fields())

    var fields: Fields { box.withLockedValue { $0 } }

    func update(_ change: (inout Fields) -> Void) {
        box.withLockedValue { change(&$0) }
    }

    func set(_ result: String) {
        box.withLockedValue { $0.result = result }
    }
}
