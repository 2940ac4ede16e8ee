import EnableBotAPI
import EnableBotHTTP

await ServiceMain.run(service: .api, build: { try await buildAPIApplication(settings: $0, logger: $1) })
