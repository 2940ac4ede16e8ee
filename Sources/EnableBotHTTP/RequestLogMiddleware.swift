import EnableBotCore
import Foundation
import Hummingbird
import Logging
import Metrics

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
        let dimensions = [("method", request.method.rawValue), ("route", route), ("status", String(status))]
        Counter(label: "http_requests_total", dimensions: dimensions).increment()
        Timer(label: "http_request_duration_seconds", dimensions: [("route", route)]).recordNanoseconds(
            Int64(milliseconds * 1_000_000)
        )
        let level: Logger.Level = quietPaths.contains(path) && status < 500 ? .debug : .info
        logger.log(level: level, "\(request.method.rawValue) \(path)", metadata: [
            "status": "\(status)", "duration_ms": "\(String(format: "%.2f", milliseconds))",
        ])
    }
}
