import EnableBotCore
import EnableBotEmulator
import Foundation
import Logging
import ServiceLifecycle
import Testing
import TestSupport

/// What a newcomer does in the first ten minutes, end to end in headless Chromium: the real enablebot-web and
/// enablebot-api (processes from the build directory, development defaults, no Slack credentials, no LLM key) and
/// the emulator (in-process). Install through the install page and the emulator's consent screen, mention the bot in
/// Acme's #general, see the offline model's answer in the thread, check Globex sees none of it, and find Acme and
/// its one event on the operator's dashboard. Screenshots go to `$ENABLEBOT_TEST_ARTIFACTS/screenshots/first-ten-minutes`.
@Suite("FirstTenMinutes", .timeLimit(.minutes(3)))
struct FirstTenMinutesTests {
    @Test("install via the emulator, mention the bot, the answer in the thread, the dashboard counts the event",
          .enabled(if: BrowserDriver.enabled))
    func firstTenMinutes() async throws {
        let directory = TestPaths.temporaryDirectory()
        let (webPort, apiPort, emulatorPort) = (try FreePort.next(), try FreePort.next(), try FreePort.next())
        // Only what differs from `scripts/run.sh` on a fresh clone: ports and folders (the browser uses localhost,
        // the host of the default redirect URI, so the install cookie comes back).
        let environment = [
            "ENABLEBOT_DATA_DIR": directory, "DATABASE_URL": "sqlite:\(directory)/enablebot.sqlite",
            "WEB_PORT": "\(webPort)", "API_PORT": "\(apiPort)", "EMULATOR_PORT": "\(emulatorPort)",
            "SLACK_REDIRECT_URI": "http://localhost:\(webPort)/slack/oauth/callback", "LOG_LEVEL": "info",
        ]

        var logger = Logger(label: "emulator")
        logger.logLevel = .warning
        let configuration = try EmulatorConfiguration.load(environment: environment)
        let (emulator, application) = buildEmulatorApplication(configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [], logger: logger))
        let running = Task { try await group.run() }

        // As scripts/run.sh: migrate first, then the services.
        let migrate = try ServiceProcess.start("enablebot", arguments: ["migrate"], environment: environment, directory: directory)
        #expect(try await migrate.waitForExit(within: .seconds(30)) == 0, "\(migrate.output)")
        let web = try ServiceProcess.start("enablebot-web", environment: environment, directory: directory)
        let api = try ServiceProcess.start("enablebot-api", environment: environment, directory: directory)
        let http = CurlHTTPClient()
        defer {
            web.kill()
            api.kill()
            http.shutdown()
        }
        for (service, port) in [(web, webPort), (api, apiPort)] {
            _ = try await service.waitForHealth(port: port, http: http)
        }
        _ = try await ServiceProcess.waitForHTTP("http://127.0.0.1:\(emulatorPort)/health", http: http)

        let out = BrowserDriver.artifacts.appendingPathComponent("screenshots/first-ten-minutes")
        let password = try String(contentsOfFile: directory + "/admin_password", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let result = try await BrowserDriver.run("first_ten_minutes.py", [
            "--web", "http://localhost:\(webPort)", "--emulator", "http://127.0.0.1:\(emulatorPort)",
            // `=`: a generated password may begin with "-", which argparse would take for an option.
            "--password=\(password)", "--out", out.path,
        ])
        let seen = (try? JSONSerialization.jsonObject(with: Data(result.output.utf8))) as? [String: Any] ?? [:]
        #expect(result.status == 0, "driver: \(result.output)\nweb:\n\(web.output.suffix(3000))\napi:\n\(api.output.suffix(3000))")
        #expect((seen["steps"] as? [String]) == ["install", "chat", "tenants", "dashboard"])
        #expect(seen["who"] as? String == "T0ACME/U0ACMEADMIN")
        #expect((seen["answer"] as? String)?.contains("offline model") == true, "\(seen["answer"] ?? "no answer")")
        #expect((seen["answer"] as? String)?.contains("what is a sliding window?") == true)
        #expect(seen["globex_bot_messages"] as? Int == 0)
        #expect(seen["dashboard_team"] as? String == "Acme")
        #expect(seen["dashboard_events_today"] as? String == "1")
        print("first ten minutes, browser timings: \(seen["timings_s"] ?? [:])")

        // The emulator holds the same story: one question and one answer in its thread, in Acme only.
        let messages = await emulator.state.world.messages
        let question = try #require(messages.first { $0.teamID == "T0ACME" && !$0.isBot })
        #expect(question.text == "<@U0ACMEBOT> what is a sliding window?")
        let replies = messages.filter { $0.isReply && $0.threadTS == question.ts }
        #expect(replies.count == 1 && replies.first?.isBot == true)
        #expect(!messages.contains { $0.teamID == "T0GLOBEX" && $0.isBot })
        #expect(await emulator.state.deliveries.contains { $0.teamID == "T0ACME" && $0.outcome.hasPrefix("delivered") })

        web.signal(SIGTERM)
        api.signal(SIGTERM)
        _ = try? await web.waitForExit(within: .seconds(10))
        _ = try? await api.waitForExit(within: .seconds(10))
        await group.triggerGracefulShutdown()
        _ = await running.result
    }
}
