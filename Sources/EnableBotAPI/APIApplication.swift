import EnableBotCore
import EnableBotHTTP
import Hummingbird
import Logging

/// Builds `enablebot-api`: Slack events and commands, background workers, health and metrics.
public func buildAPIApplication(runtime: CoreRuntime) async throws -> some ApplicationProtocol {
    let router = Router()
    router.add(middleware: RequestLogMiddleware(logger: runtime.logger))
    OperationalRoutes.add(to: router, runtime: runtime, service: .api)
    return Application(
        router: router,
        configuration: .init(address: .hostname(runtime.settings.host, port: runtime.settings.port), serverName: "enablebot-api"),
        logger: runtime.logger
    )
}
