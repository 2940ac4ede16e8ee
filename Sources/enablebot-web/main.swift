import EnableBotHTTP
import EnableBotWeb

await ServiceMain.run(service: .web, build: { try await buildWebApplication(settings: $0, logger: $1) })
