import EnableBotCore
import Foundation
import Hummingbird
import Logging
import Metrics
import Synchronization

/// One log line per request with `status` and `duration_ms` (never the body or query, which may carry
/// codes and secrets), plus request counters and a latency histogram for `/metrics`.
public struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    private let logger: Logger
    private let quietPaths: Set<String>

    /// `quietPaths` (health probes, metrics scrapes) log at debug instead of info.
    public init(logger: Logger, quietPaths: Set<String> = ["/health", "/metrics"]) {
        self.logger = logger
        self.quietPaths = quietPaths
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let path = request.uri.path
        let route = context.endpointPath ?? "unmatched"
        do {
            let response = try await next(request, context)
            record(request: request, path: path, route: route, status: Int(response.status.code), start: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            record(request: request, path: path, route: route, status: Int(status), start: start)
            throw error
        }
    }

    private func record(request: Request, path: String, route: String, status: Int, start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let metrics = RequestMetrics.of(method: request.method.rawValue, route: route, status: status)
        metrics.requests.increment()
        metrics.duration.recordNanoseconds(Int64(milliseconds * 1_000_000))
        let level: Logger.Level = quietPaths.contains(path) && status < 500 ? .debug : .info
        logger.log(level: level, "\(request.method.rawValue) \(path)", metadata: [
            "status": "\(status)", "duration_ms": "\(String(format: "%.2f", milliseconds))",
        ])
    }
}

/// The request counter and latency timer of one method, route and status, made once: asking the metrics factory for
/// them on every request (a registry lookup under its lock) cost more than the rest of this middleware.
private struct RequestMetrics: Sendable {
    private struct Key: Hashable {
        var method: String
        var route: String
        var status: Int
    }

    let requests: Counter
    let duration: Timer

    // Routes are the app's own patterns ("unmatched" for the rest) and statuses are few: the cache stays small.
    private static let cache = Mutex<[Key: RequestMetrics]>([:])

    static func of(method: String, route: String, status: Int) -> RequestMetrics {
        let key = Key(method: method, route: route, status: status)
        if let metrics = cache.withLock({ $0[key] }) { return metrics }
        let metrics = RequestMetrics(
            requests: Counter(label: "http_requests_total", dimensions: [("method", method), ("route", route), ("status", String(status))]),
            duration: Timer(label: "http_request_duration_seconds", dimensions: [("route", route)])
        )
        cache.withLock { $0[key] = metrics }
        return metrics
    }
}
