import EnableBotCore
import Foundation
import Hummingbird
import Logging

/// `GET /health` and `GET /metrics`, the same on both services.
public enum OperationalRoutes {
    public static func add<Context: RequestContext>(to router: Router<Context>, health: HealthCheck, service: ServiceName, logger: Logger) {
        // Metrics must be bootstrapped before the first counter is made, or counters go nowhere.
        _ = MetricsBootstrap.registry
        router.get("/health") { _, _ -> Response in
            let report = await health.report(service: service)
            let status: HTTPResponse.Status = report.isServing ? .ok : .serviceUnavailable
            if !report.failing.isEmpty {
                logger.warning("health check failing", metadata: [
                    "checks": "\(report.failing.joined(separator: ","))", "status": "\(status.code)", "health": "\(report.status)",
                ])
            }
            return jsonResponse(report, status: status)
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: MetricsBootstrap.render()))
            )
        }
    }
}

/// A JSON response with the given status. Encoding our own Encodable values cannot fail in practice;
/// if it ever did the client gets a bare 500 rather than a half-written body.
public func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(value) else { return Response(status: .internalServerError) }
    var fields = headers
    fields[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
}
