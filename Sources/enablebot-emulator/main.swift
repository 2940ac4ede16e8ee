import EnableBotCore
import EnableBotEmulator
import Foundation
import Hummingbird
import Logging

// The Slack emulator for development: `enablebot-emulator` (EMULATOR_PORT, default 8002). See README "First ten minutes".
let configuration: EmulatorConfiguration
do {
    configuration = try EmulatorConfiguration.load()
} catch {
    Logging.fail(service: .emulator, error.description)
}
Logging.bootstrap(service: .emulator, level: configuration.logLevel, format: configuration.logFormat)
var logger = Logger(label: "enablebot-emulator")
logger.logLevel = configuration.logLevel
let (_, application) = buildEmulatorApplication(configuration: configuration, logger: logger)
logger.info("starting", metadata: [
    "chat": "\(configuration.origin)/chat", "events_url": "\(configuration.eventsURL)",
    "data_file": "\(configuration.dataFile ?? "memory")",
])
do {
    try await application.runService()
    logger.info("stopped")
} catch {
    logger.critical("stopped with an error: \(error)")
    exit(1)
}
