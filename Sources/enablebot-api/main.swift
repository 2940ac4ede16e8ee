import EnableBotAPI
import EnableBotHTTP

await ServiceMain.run(service: .api, build: buildAPIApplication(runtime:))
