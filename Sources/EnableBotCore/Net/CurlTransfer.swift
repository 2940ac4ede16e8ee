import CCurl
import Synchronization

/// One request: its easy handle, the C memory curl points into, and the response as it arrives.
///
/// Built and configured on the caller's thread, then handed to the loop thread, which alone touches the
/// handle until `release()`. The continuation is resumed exactly once, by `finish` or by `install`.
final class CurlTransfer: @unchecked Sendable {
    let easy: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private var released = false
    private let maxResponseBytes: Int

    // Written by curl's callbacks, on the loop thread only.
    private var body: [UInt8] = []
    private var headers: [(name: String, value: String)] = []
    private var bodyTooLarge = false
    /// Set for a streamed response: body bytes go here instead of `body`, and the caller is resumed with the head
    /// at the first of them.
    private let bodyStream: AsyncThrowingStream<[UInt8], any Error>.Continuation?
    private var streamedBytes = 0

    private struct State {
        var continuation: CheckedContinuation<HTTPClientResponse, any Error>?
        var result: Result<HTTPClientResponse, HTTPClientError>?
        var cancelled = false
        var resumed = false
    }
    private let state = Mutex(State())

    /// - Parameter bodyStream: streams the body there (see `HTTPClient.stream`) instead of collecting it.
    init(
        request: HTTPClientRequest, maxResponseBytes: Int,
        bodyStream: AsyncThrowingStream<[UInt8], any Error>.Continuation? = nil
    ) throws(HTTPClientError) {
        self.bodyStream = bodyStream
        try Self.validate(request)
        _ = curlGlobalInit
        guard let easy = curl_easy_init() else { throw HTTPClientError.transport.with(detail: "curl_easy_init failed") }
        self.easy = easy
        self.maxResponseBytes = maxResponseBytes
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        do {
            try configure(request)
        } catch {
            release()
            throw error
        }
    }

    deinit {
        // Normally released by the loop thread; this only covers a transfer that never got that far.
        release()
        errorBuffer.deallocate()
    }

    // MARK: Setup (caller's thread)

    private func configure(_ request: HTTPClientRequest) throws(HTTPClientError) {
        let userdata = Unmanaged.passUnretained(self).toOpaque()
        let timeoutMS = Self.milliseconds(request.timeout)
        try check(ccurl_easy_setopt_string(easy, CURLOPT_URL, request.url), else: .invalidURL)
        try check(ccurl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        try check(ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        try check(ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeoutMS))
        // A dead host should fail fast even when the whole transfer may take long (an LLM answer).
        try check(ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, min(timeoutMS, 10_000)))
        try check(ccurl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        try check(ccurl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        try check(ccurl_easy_setopt_long(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1))
        // Rejects a declared Content-Length over the cap before any body arrives; the write callback catches the rest.
        try check(ccurl_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(maxResponseBytes)))
        try check(ccurl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer))
        try check(ccurl_easy_setopt_write_function(easy) { data, size, count, userdata in
            guard let userdata else { return 0 }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
            return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
        })
        try check(ccurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, userdata))
        try check(ccurl_easy_setopt_header_function(easy) { data, size, count, userdata in
            guard let userdata else { return 0 }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
            return transfer.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
        })
        try check(ccurl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, userdata))
        try configureMethodAndBody(request)
        try configureHeaders(request)
    }

    private func configureMethodAndBody(_ request: HTTPClientRequest) throws(HTTPClientError) {
        let method = request.method.uppercased()
        if method == "HEAD" {
            try check(ccurl_easy_setopt_long(easy, CURLOPT_NOBODY, 1))
            return
        }
        if method == "GET" && request.body.isEmpty {
            try check(ccurl_easy_setopt_long(easy, CURLOPT_HTTPGET, 1))
            return
        }
        if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) {
            // The size must be set first, or curl would strlen() binary data. COPYPOSTFIELDS copies the bytes.
            try check(ccurl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
            let code = request.body.withUnsafeBytes { bytes in
                let pointer = UnsafeMutableRawPointer(mutating: bytes.baseAddress)
                return ccurl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, pointer)
            }
            try check(code)
        }
        if method != "POST" {
            try check(ccurl_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method))
        }
    }

    private func configureHeaders(_ request: HTTPClientRequest) throws(HTTPClientError) {
        var list: UnsafeMutablePointer<curl_slist>?
        func append(_ line: String) throws(HTTPClientError) {
            guard let extended = curl_slist_append(list, line) else {
                throw HTTPClientError.transport.with(detail: "out of memory")
            }
            list = extended
            headerList = extended  // owned from the first append on, so release() frees it even on failure
        }
        let names = Set(request.headers.map { $0.name.lowercased() })
        for header in request.headers {
            // "Name:" would make curl drop the header; "Name;" sends it with an empty value.
            try append(header.value.isEmpty ? "\(header.name);" : "\(header.name): \(header.value)")
        }
        // No "Expect: 100-continue" round trip before a POST body.
        if !names.contains("expect") { try append("Expect:") }
        // Nor a form content type the caller did not ask for.
        if !names.contains("content-type") { try append("Content-Type:") }
        try check(ccurl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list)))
    }

    private func check(_ code: CURLcode, else error: HTTPClientError = .transport) throws(HTTPClientError) {
        guard code == CURLE_OK else { throw error.with(detail: String(cString: curl_easy_strerror(code))) }
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let capped = min(max(seconds, 0), 365 * 86_400)
        return max(1, Int(capped) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    /// Rejects what would corrupt the request line or let a header value inject another header.
    private static func validate(_ request: HTTPClientRequest) throws(HTTPClientError) {
        guard isToken(request.method) else {
            throw HTTPClientError.invalidRequest.with(detail: "method is not a token")
        }
        guard !request.url.utf8.contains(0) else { throw HTTPClientError.invalidURL }
        for header in request.headers {
            guard isToken(header.name) else { throw HTTPClientError.invalidRequest.with(detail: "bad header name") }
            guard !header.value.utf8.contains(where: { $0 == 0 || $0 == 10 || $0 == 13 }) else {
                throw HTTPClientError.invalidRequest.with(detail: "bad value for header \(header.name)")
            }
        }
    }

    private static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    // MARK: Callbacks (loop thread; internal for tests)

    func receiveBody(_ chunk: UnsafeRawBufferPointer) -> Int {
        let received = (bodyStream == nil ? body.count : streamedBytes) + chunk.count
        guard received <= maxResponseBytes else {
            bodyTooLarge = true
            return 0  // anything but chunk.count aborts the transfer with CURLE_WRITE_ERROR
        }
        guard let bodyStream else {
            body.append(contentsOf: chunk)
            return chunk.count
        }
        if streamedBytes == 0 {
            var status = 0
            _ = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            resume(.success(HTTPClientResponse(status: status, headers: headers)))
        }
        streamedBytes = received
        bodyStream.yield(Array(chunk))
        return chunk.count
    }

    /// curl calls this once per complete header line, status lines included.
    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) -> Int {
        var line = Substring(String(decoding: bytes, as: UTF8.self))
        while let last = line.last, last.isNewline { line.removeLast() }  // "\r\n" is one Character
        if line.hasPrefix("HTTP/") {
            // A new response starts (after a 100 Continue or a proxy's answer): keep only the final one.
            headers.removeAll()
            body.removeAll()
        } else if let first = line.first, first == " " || first == "\t", !headers.isEmpty {
            headers[headers.count - 1].value += " " + Self.trimmed(line)  // obsolete line folding
        } else if let colon = line.firstIndex(of: ":") {
            headers.append((name: Self.trimmed(line[..<colon]), value: Self.trimmed(line[line.index(after: colon)...])))
        }
        return bytes.count
    }

    private static func trimmed(_ text: Substring) -> String {
        var text = text
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return String(text)
    }

    // MARK: Completion (loop thread)

    /// The response, or the error, for curl's result code. Call before `release()`.
    func outcome(_ code: CURLcode) -> Result<HTTPClientResponse, HTTPClientError> {
        guard code == CURLE_OK else { return .failure(error(for: code)) }
        var status = 0
        _ = ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPClientResponse(status: status, headers: headers, body: body))
    }

    private func error(for code: CURLcode) -> HTTPClientError {
        let message = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        let kind: HTTPClientError
        switch code {
        case CURLE_OPERATION_TIMEDOUT: kind = .timedOut
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT, CURLE_SSL_CONNECT_ERROR:
            kind = .connectionFailed
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: kind = .invalidURL
        case CURLE_FILESIZE_EXCEEDED: kind = .responseTooLarge
        case CURLE_WRITE_ERROR where bodyTooLarge: kind = .responseTooLarge
        default: kind = .transport
        }
        return kind.with(detail: message)
    }

    /// Frees the easy handle and the header list. The handle must not be in a multi handle.
    func release() {
        guard !released else { return }
        released = true
        curl_easy_cleanup(easy)
        curl_slist_free_all(headerList)
        headerList = nil
    }

    // MARK: Continuation (any thread)

    /// Stores the continuation. Returns false, having resumed it with `.cancelled`, if the task was cancelled
    /// first: the transfer must then not be submitted.
    func install(_ continuation: CheckedContinuation<HTTPClientResponse, any Error>) -> Bool {
        let early: Result<HTTPClientResponse, HTTPClientError>? = state.withLock { state in
            if let result = state.result {
                state.resumed = true
                return result
            }
            if state.cancelled {
                state.resumed = true
                return .failure(.cancelled)
            }
            state.continuation = continuation
            return nil
        }
        guard let early else { return true }
        continuation.resume(with: early)
        return false
    }

    func markCancelled() {
        state.withLock { $0.cancelled = true }
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Resumes the caller with `result`, unless it was already resumed, and ends a streamed body with it.
    func finish(_ result: Result<HTTPClientResponse, HTTPClientError>) {
        resume(result)
        switch result {
        case .success: bodyStream?.finish()
        case .failure(let error): bodyStream?.finish(throwing: error)
        }
    }

    private func resume(_ result: Result<HTTPClientResponse, HTTPClientError>) {
        let continuation: CheckedContinuation<HTTPClientResponse, any Error>? = state.withLock { state in
            guard !state.resumed else { return nil }
            guard let continuation = state.continuation else {
                state.result = result
                return nil
            }
            state.resumed = true
            state.continuation = nil
            return continuation
        }
        continuation?.resume(with: result)
    }
}
