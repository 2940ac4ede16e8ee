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
        matches(request.headers.firstValue(.contentType), "application/x-www-form-urlencoded")
    }

    static func isJSON(_ request: Request) -> Bool {
        matches(request.headers.firstValue(.contentType), "application/json")
    }

    /// Whether the media type, without parameters and surrounding blanks, is `expected` in any letter case
    /// (`Application/JSON; charset=utf-8` is `application/json`). Compared byte by byte: this runs on every request.
    static func matches(_ value: String?, _ expected: StaticString) -> Bool {
        guard let value else { return false }
        var bytes = value.utf8.prefix { $0 != UInt8(ascii: ";") }[...]
        while let first = bytes.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { bytes = bytes.dropLast() }
        let wanted = UnsafeBufferPointer(start: expected.utf8Start, count: expected.utf8CodeUnitCount)
        guard bytes.count == wanted.count else { return false }
        return zip(bytes, wanted).allSatisfy { got, want in (got >= 65 && got <= 90 ? got + 32 : got) == want }
    }
}

extension HTTPField.Name {
    static let slackRequestTimestamp = HTTPField.Name("X-Slack-Request-Timestamp")!
    static let slackSignature = HTTPField.Name("X-Slack-Signature")!
    static let slackRetryNum = HTTPField.Name("X-Slack-Retry-Num")!
    static let slackRetryReason = HTTPField.Name("X-Slack-Retry-Reason")!
}
