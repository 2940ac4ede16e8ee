import EnableBotCore
import EnableBotHTTP
import Hummingbird
import Logging

/// Builds `enablebot-web`: OAuth installs, the dashboard, health and metrics.
public func buildWebApplication(runtime: CoreRuntime) async throws -> some ApplicationProtocol {
    let router = Router()
    router.add(middleware: RequestLogMiddleware(logger: runtime.logger))
    OperationalRoutes.add(to: router, runtime: runtime, service: .web)
    return Application(
        router: router,
        configuration: .init(address: .hostname(runtime.settings.host, port: runtime.settings.port), serverName: "enablebot-web"),
        logger: runtime.logger
    )
}
