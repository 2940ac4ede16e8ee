import EnableBotHTTP
import EnableBotWeb

await ServiceMain.run(service: .web, build: buildWebApplication(runtime:))
