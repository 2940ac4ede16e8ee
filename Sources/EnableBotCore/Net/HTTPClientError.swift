/// Why an HTTP request produced no response.
///
/// Compare with the `static let`s (`error == .timedOut`); equality looks at the kind only, not the detail.
/// The description names the kind and curl's message, never the request's headers or body (they carry tokens).
public struct HTTPClientError: Error, CustomStringConvertible, Equatable {
    private enum Kind: Equatable {
        case timedOut
        case connectionFailed
        case cancelled
        case invalidURL
        case invalidRequest
        case responseTooLarge
        case shutDown
        case transport
    }

    private let kind: Kind
    /// What curl said, if anything, e.g. "Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to
    /// server".
    public let detail: String?

    private init(_ kind: Kind, detail: String? = nil) {
        self.kind = kind
        self.detail = detail
    }

    /// The request's timeout elapsed before the response was complete.
    public static let timedOut = HTTPClientError(.timedOut)
    /// Name resolution or the TCP/TLS connection failed: the request was not sent.
    public static let connectionFailed = HTTPClientError(.connectionFailed)
    /// The calling task was cancelled.
    public static let cancelled = HTTPClientError(.cancelled)
    /// The URL is malformed or not http/https.
    public static let invalidURL = HTTPClientError(.invalidURL)
    /// The method or a header contains characters that cannot be sent (CR, LF, NUL, ...).
    public static let invalidRequest = HTTPClientError(.invalidRequest)
    /// The response body exceeded the client's `maxResponseBytes`.
    public static let responseTooLarge = HTTPClientError(.responseTooLarge)
    /// The client was shut down before the response arrived.
    public static let shutDown = HTTPClientError(.shutDown)
    /// Any other failure while sending or receiving.
    public static let transport = HTTPClientError(.transport)

    /// The same kind of error with curl's message attached.
    func with(detail: String?) -> HTTPClientError {
        guard let detail, !detail.isEmpty else { return self }
        return HTTPClientError(kind, detail: detail)
    }

    public var description: String {
        if let detail { return "HTTPClientError.\(kind): \(detail)" }
        return "HTTPClientError.\(kind)"
    }

    public static func == (lhs: HTTPClientError, rhs: HTTPClientError) -> Bool {
        lhs.kind == rhs.kind
    }
}
