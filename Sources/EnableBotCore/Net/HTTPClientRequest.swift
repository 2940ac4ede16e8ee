/// An outbound HTTP request, fully buffered.
public struct HTTPClientRequest: Sendable {
    /// "GET", "POST", "PUT", "DELETE", "HEAD", ...
    public var method: String
    public var url: String
    /// Sent in order; a name may repeat. May carry secrets: never logged, never put into errors.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Limit for the whole transfer: connect, send and receive.
    public var timeout: Duration

    public init(
        method: String = "GET",
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        timeout: Duration = .seconds(30)
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// A complete HTTP response. Redirects are not followed, so a 3xx arrives as it is.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    /// Headers of the final response only (not of a preceding `100 Continue`).
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of the header called `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        Self.first(name, in: headers)
    }

    static func first(_ name: String, in headers: [(name: String, value: String)]) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }
}

/// A response whose body is read as it arrives (a model's server-sent events): the status and headers come
/// first, then the body in pieces. The stream ends when the response does, or throws `HTTPClientError` when the
/// transfer breaks off (timeout, reset, over the size cap). Dropping or cancelling the iteration aborts the transfer.
public struct HTTPClientStreamingResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: AsyncThrowingStream<[UInt8], any Error>

    public init(status: Int, headers: [(name: String, value: String)], body: AsyncThrowingStream<[UInt8], any Error>) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        HTTPClientResponse.first(name, in: headers)
    }
}

/// Sends HTTP requests. `CurlHTTPClient` is the real one; tests may use a fake.
public protocol HTTPClient: Sendable {
    /// Sends `request` and returns the response, whatever its status.
    /// - Throws: `HTTPClientError` when no complete response arrived.
    func send(_ request: HTTPClientRequest) async throws -> HTTPClientResponse

    /// Sends `request` and returns as soon as the response's head and first body bytes (or its end) are in; the
    /// body follows through the response's stream. Any status is a response.
    /// - Throws: `HTTPClientError` when no response head arrived.
    func stream(_ request: HTTPClientRequest) async throws -> HTTPClientStreamingResponse
}
