import ServiceLifecycle

/// An `HTTPClient` over libcurl's multi interface.
///
/// One dedicated thread per client runs every transfer with `curl_multi_poll`, so thousands of requests in flight
/// cost sockets, not threads, and no blocking C call runs on a Swift concurrency or NIO thread. Connections are
/// kept in the multi handle's cache and reused across requests to the same host.
///
/// Run it as a `Service` (it shuts down on graceful shutdown), or call `shutdown()` when done.
public final class CurlHTTPClient: HTTPClient, Service, @unchecked Sendable {
    private let loop: CurlMultiLoop
    private let maxResponseBytes: Int

    /// - Parameters:
    ///   - maxResponseBytes: a larger response body fails with `HTTPClientError.responseTooLarge`.
    ///   - maxConnectionsPerHost: 0 leaves it unlimited; otherwise extra transfers wait in curl for a connection
    ///     (their timeout keeps running).
    public init(maxResponseBytes: Int = 8 << 20, maxConnectionsPerHost: Int = 0) {
        self.maxResponseBytes = maxResponseBytes
        self.loop = CurlMultiLoop(maxConnectionsPerHost: maxConnectionsPerHost)
    }

    deinit {
        loop.shutdown()
    }

    /// Sends `request`; any status, 4xx and 5xx included, is a response.
    /// - Throws: `HTTPClientError`: `.cancelled` promptly when the calling task is cancelled.
    public func send(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        try await run(try CurlTransfer(request: request, maxResponseBytes: maxResponseBytes))
    }

    /// Streams the body (a model's server-sent events): the caller gets the head with the first body bytes, the
    /// rest as curl receives it. `maxResponseBytes` caps the whole body here too.
    public func stream(_ request: HTTPClientRequest) async throws -> HTTPClientStreamingResponse {
        let (body, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        let transfer = try CurlTransfer(request: request, maxResponseBytes: maxResponseBytes, bodyStream: continuation)
        let loop = self.loop
        // The reader went away (cancelled, or dropped the stream before its end): stop the transfer.
        continuation.onTermination = { termination in
            if case .cancelled = termination { loop.cancel(transfer) }
        }
        let head = try await run(transfer)
        return HTTPClientStreamingResponse(status: head.status, headers: head.headers, body: body)
    }

    private func run(_ transfer: CurlTransfer) async throws -> HTTPClientResponse {
        let loop = self.loop
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // Cancelled before it started: install resumed the continuation and curl never saw the handle.
                guard transfer.install(continuation) else { return transfer.release() }
                if !loop.submit(transfer) {
                    transfer.release()
                    transfer.finish(.failure(.shutDown))
                }
            }
        } onCancel: {
            loop.cancel(transfer)
        }
    }

    /// Waits for graceful shutdown (or cancellation), then shuts the client down.
    public func run() async throws {
        try? await gracefulShutdown()
        shutdown()
    }

    /// Fails unfinished requests with `.shutDown`, stops the loop thread and waits for it. Later requests fail with
    /// `.shutDown`. Idempotent.
    public func shutdown() {
        loop.shutdown()
    }
}
