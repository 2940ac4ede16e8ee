import EnableBotCore
import Foundation
import Hummingbird
import Logging

/// The whole of a service's `main`: settings, logging, metrics, database, then the application until SIGTERM.
/// A bad setting or an unreachable database ends the process with one clear JSON line and exit code 1.
public enum ServiceMain {
    public static func run<App: ApplicationProtocol>(
        service: ServiceName,
        build: @escaping (CoreRuntime) async throws -> App
    ) async -> Never {
        let settings: Settings
        do {
            settings = try Settings.load(service: service)
        } catch {
            Logging.fail(service: service, error.description)
        }
        Logging.bootstrap(service: service, level: settings.logLevel, format: settings.logFormat)
        _ = MetricsBootstrap.registry
        var logger = Logger(label: "enablebot-\(service.rawValue)")
        logger.logLevel = settings.logLevel
        for warning in settings.warnings { logger.warning("\(warning)") }

        let runtime: CoreRuntime
        do {
            runtime = try await CoreRuntime.start(settings: settings, logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            exit(1)
        }
        do {
            let app = try await build(runtime)
            logger.info("starting", metadata: ["host": "\(settings.host)", "port": "\(settings.port)", "version": "\(EnableBotVersion.current)"])
            try await app.runService()
            logger.info("stopped")
        } catch {
            logger.critical("stopped with an error: \(error)")
            await runtime.shutdown()
            exit(1)
        }
        await runtime.shutdown()
        exit(0)
    }
}
