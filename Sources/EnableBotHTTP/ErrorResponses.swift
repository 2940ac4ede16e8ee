import Foundation
import HTTPTypes
import Hummingbird

/// A client error with a short reason a person can act on, rendered as `{"error": "..."}`.
public struct JSONError: HTTPResponseError, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let reason: String

    public init(_ status: HTTPResponse.Status, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status.code) \(reason)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonResponse(["error": reason], status: status)
    }
}

extension Request {
    /// The raw body, refusing more than `limit` bytes with 413 before reading further.
    public mutating func collectBody(limit: Int) async throws -> ByteBuffer {
        if let length = headers.firstValue(.contentLength).flatMap(Int.init), length > limit {
            throw JSONError(.contentTooLarge, "request body is larger than \(limit) bytes")
        }
        do {
            return try await body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw JSONError(.contentTooLarge, "request body is larger than \(limit) bytes")
        }
    }
}

extension HTTPFields {
    /// The value of the first field named `name`. Every request of the ack path reads five headers, and
    /// `subscript(_:)` joins all fields of a name into a new string on each call: a twentieth of the path's CPU.
    /// A repeated field is read as its first value: a repeated signature or timestamp must still match the body.
    public func firstValue(_ name: HTTPField.Name) -> String? {
        for field in self where field.name == name { return field.value }
        return nil
    }
}
