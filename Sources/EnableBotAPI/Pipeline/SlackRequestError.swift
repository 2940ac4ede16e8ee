import EnableBotCore
import EnableBotHTTP
import Foundation
import HTTPTypes
import Hummingbird

/// A request Slack sent that we cannot use, once its signature is known good. Mapped to 4xx in `APIErrorMiddleware`.
struct SlackRequestError: Error, CustomStringConvertible {
    let status: HTTPResponse.Status
    let reason: String

    static func unsupportedContentType(expected: String) -> SlackRequestError {
        SlackRequestError(status: .unsupportedMediaType, reason: "expected Content-Type \(expected)")
    }

    static func malformed(_ reason: String) -> SlackRequestError {
        SlackRequestError(status: .badRequest, reason: reason)
    }

    var description: String { reason }
}

/// The media type checks of the Slack routes.
enum SlackMediaType {
    static func isForm(_ request: Request) -> Bool {
        mediaType(request) == "application/x-www-form-urlencoded"
    }

    static func isJSON(_ request: Request) -> Bool {
        mediaType(request) == "application/json"
    }

    /// The media type without parameters, lowercased (`application/json; charset=utf-8` → `application/json`).
    /// Plain byte work: this runs on every request.
    private static func mediaType(_ request: Request) -> String? {
        guard let value = request.headers[.contentType] else { return nil }
        var bytes = value.utf8.prefix { $0 != UInt8(ascii: ";") }[...]
        while let first = bytes.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { bytes = bytes.dropLast() }
        return String(decoding: bytes.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }
}

extension HTTPField.Name {
    static let slackRequestTimestamp = HTTPField.Name("X-Slack-Request-Timestamp")!
    static let slackSignature = HTTPField.Name("X-Slack-Signature")!
    static let slackRetryNum = HTTPField.Name("X-Slack-Retry-Num")!
    static let slackRetryReason = HTTPField.Name("X-Slack-Retry-Reason")!
}
