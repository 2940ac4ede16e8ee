import EnableBotCore
import Foundation
import Hummingbird
import Logging

/// The whole of a service's `main`: load the settings, build the application, run it until SIGTERM. Everything the
/// application needs (database, Redis, HTTP client, workers) is one of its services, started and stopped by its
/// service group. A bad setting, an unreachable database or a failed migration ends the process with one JSON line
/// and exit code 1.
public enum ServiceMain {
    public static func run<App: ApplicationProtocol>(
        service: ServiceName,
        build: @escaping (Settings, Logger) async throws -> App
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

        let app: App
        do {
            app = try await build(settings, logger)
        } catch {
            logger.critical("cannot start: \(error)")
            exit(1)
        }
        do {
            logger.info("starting", metadata: ["host": "\(settings.host)", "port": "\(settings.port)", "version": "\(EnableBotVersion.current)"])
            try await app.runService()
            logger.info("stopped")
            exit(0)
        } catch {
            // Also where a failed migration ends up: they run before the server starts listening.
            logger.critical("stopped with an error: \(error)")
            exit(1)
        }
    }
}
