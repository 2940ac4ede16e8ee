import EnableBotCore
import EnableBotEmulator
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import Testing
import TestSupport

/// The emulator on its own: OAuth, the Web API's tenant separation, persistence, and event delivery as Slack does it
/// (signed, 3-second timeout, retries with their headers, url_verification first) to a stand-in app.
@Suite("Emulator", .timeLimit(.minutes(2)))
struct EmulatorTests {
    static let secret = "emulator-test-signing-secret"

    struct Received: Sendable {
        var path: String
        var headers: [String: String]
        var body: [UInt8]
    }

    /// A stand-in app: records every request, verifies its signature, answers by `answer` (attempt number from 1).
    static func app(
        _ stack: TestStack, answer: @escaping @Sendable (Int, Received) async -> Response
    ) async throws -> (LocalHTTPServer, NIOLockedValueBox<[Received]>) {
        let received = NIOLockedValueBox<[Received]>([])
        let server = try await stack.server { router in
            router.post("/slack/{kind}") { request, _ -> Response in
                let body = Array(try await request.body.collect(upTo: 1 << 20).readableBytesView)
                var headers: [String: String] = [:]
                for field in request.headers { headers[field.name.canonicalName] = field.value }  // names lowercased
                let entry = Received(path: request.uri.path, headers: headers, body: body)
                let count = received.withLockedValue { $0.append(entry); return $0.count }
                return await answer(count, entry)
            }
        }
        return (server, received)
    }

    static func configuration(_ app: LocalHTTPServer, file: String? = nil) -> EmulatorConfiguration {
        var c = EmulatorConfiguration(signingSecret: secret)
        c.eventsURL = app.baseURL + "/slack/events"
        c.commandsURL = app.baseURL + "/slack/commands"
        c.dataFile = file
        c.deliveryTimeout = .milliseconds(1_500)  // short, yet long enough for a loaded machine to answer a fast app
        c.retryDelays = [.milliseconds(10), .milliseconds(10), .milliseconds(10)]
        return c
    }

    static func challenge(_ received: Received) -> Response {
        let object = try? JSONSerialization.jsonObject(with: Data(received.body)) as? [String: Any]
        return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: object?["challenge"] as? String ?? "")))
    }

    /// Installs the app in `team` through the consent form and oauth.v2.access; returns the bot token.
    static func install(_ client: some TestClientProtocol, team: String, user: String) async throws -> String {
        let form = "client_id=\(SlackEmulatorDefaults.clientID)&scope=chat%3Awrite&redirect_uri=http%3A%2F%2Flocalhost%3A8000%2Fcb"
            + "&state=s1&who=\(team)%2F\(user)&decision=allow"
        let consent = try await client.execute(
            uri: "/oauth/v2/authorize", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
            body: ByteBuffer(string: form)
        )
        #expect(consent.status == .seeOther)
        let location = try #require(consent.headers[.location])
        #expect(location.hasPrefix("http://localhost:8000/cb?code="))
        #expect(location.hasSuffix("&state=s1"))
        let code = String(location.split(separator: "code=")[1].split(separator: "&")[0])
        let basic = "Basic " + Data("\(SlackEmulatorDefaults.clientID):\(SlackEmulatorDefaults.clientSecret)".utf8).base64EncodedString()
        let access = try await call(client, "oauth.v2.access", "code=\(code)&redirect_uri=http%3A%2F%2Flocalhost%3A8000%2Fcb", auth: basic)
        #expect(access["ok"] as? Bool == true)
        #expect((access["team"] as? [String: Any])?["id"] as? String == team)
        // A code works once.
        #expect(try await call(client, "oauth.v2.access", "code=\(code)", auth: basic)["error"] as? String == "invalid_code")
        return try #require(access["access_token"] as? String)
    }

    static func call(_ client: some TestClientProtocol, _ method: String, _ form: String, auth: String? = nil) async throws -> [String: Any] {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let auth { headers[.authorization] = auth }
        let response = try await client.execute(uri: "/api/\(method)", method: .post, headers: headers, body: ByteBuffer(string: form))
        return try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    func withEmulator(
        _ configuration: EmulatorConfiguration, _ body: @escaping @Sendable (Emulator, any TestClientProtocol) async throws -> Void
    ) async throws {
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        let emulator = Emulator(configuration: configuration, http: http, logger: Logger(label: "emulator-test"))
        let router = Router()
        emulator.addRoutes(to: router)
        try await Application(router: router).test(.router) { client in try await body(emulator, client) }
    }

    @Test("consent, oauth.v2.access, auth.test, users.info; a token works only in its own workspace")
    func oauthAndTenants() async throws {
        try await withStack { stack in
            let (app, _) = try await Self.app(stack) { _, received in Self.challenge(received) }
            try await withEmulator(Self.configuration(app)) { emulator, client in
                let cancel = try await client.execute(
                    uri: "/oauth/v2/authorize", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: "client_id=\(SlackEmulatorDefaults.clientID)&redirect_uri=http%3A%2F%2Fx%2Fcb&state=s9&decision=cancel")
                )
                #expect(cancel.headers[.location] == "http://x/cb?error=access_denied&state=s9")
                let page = try await client.execute(
                    uri: "/oauth/v2/authorize?client_id=\(SlackEmulatorDefaults.clientID)&scope=chat:write,commands&redirect_uri=http://x/cb&state=s",
                    method: .get
                )
                #expect(String(buffer: page.body).contains("Send messages as @EnableBot"))
                let wrongClient = try await client.execute(uri: "/oauth/v2/authorize?client_id=nope&redirect_uri=http://x/cb", method: .get)
                #expect(wrongClient.status == .badRequest)

                let acme = try await Self.install(client, team: "T0ACME", user: "U0ACMEADMIN")
                let test = try await Self.call(client, "auth.test", "", auth: "Bearer \(acme)")
                #expect(test["team_id"] as? String == "T0ACME")
                #expect(test["user_id"] as? String == "U0ACMEBOT")
                let admin = try await Self.call(client, "users.info", "user=U0ACMEADMIN", auth: "Bearer \(acme)")
                #expect((admin["user"] as? [String: Any])?["is_admin"] as? Bool == true)
                let member = try await Self.call(client, "users.info", "user=U0ACMEMEMBER", auth: "Bearer \(acme)")
                #expect((member["user"] as? [String: Any])?["is_admin"] as? Bool == false)
                #expect(try await Self.call(client, "users.info", "user=U0GLOBEXADMIN", auth: "Bearer \(acme)")["error"] as? String == "user_not_found")

                let posted = try await Self.call(client, "chat.postMessage", "channel=C0ACMEGENERAL&text=hi", auth: "Bearer \(acme)")
                #expect(posted["ok"] as? Bool == true)
                #expect(try await Self.call(client, "chat.postMessage", "channel=C0GLOBEXGENERAL&text=hi", auth: "Bearer \(acme)")["error"]
                    as? String == "channel_not_found")
                #expect(try await Self.call(client, "chat.postMessage", "channel=C0ACMEGENERAL&text=hi", auth: "Bearer xoxb-nope")["error"]
                    as? String == "invalid_auth")
                #expect(await emulator.state.world.messages.filter { $0.teamID == "T0GLOBEX" }.isEmpty)
            }
        }
    }

    @Test("streams, chat.update, ephemeral and assistant thread methods change what the chat page shows")
    func messaging() async throws {
        try await withStack { stack in
            let (app, _) = try await Self.app(stack) { _, received in Self.challenge(received) }
            try await withEmulator(Self.configuration(app)) { emulator, client in
                let token = try await Self.install(client, team: "T0ACME", user: "U0ACMEADMIN")
                let bearer = "Bearer \(token)"
                let question = await emulator.state.post(
                    teamID: "T0ACME", channel: "C0ACMEGENERAL", user: "U0ACMEMEMBER", text: "<@U0ACMEBOT> hi", threadTS: nil, isBot: false
                )
                _ = try await Self.call(client, "assistant.threads.setStatus", "channel_id=C0ACMEGENERAL&thread_ts=\(question.ts)&status=is+thinking…", auth: bearer)
                let prompts = FormEncoding.escape("[{\"title\":\"Limits\",\"message\":\"What are the limits?\"}]")
                #expect(try await Self.call(client, "assistant.threads.setSuggestedPrompts", "channel_id=C0ACMEGENERAL&thread_ts=\(question.ts)&prompts=\(prompts)", auth: bearer)["ok"] as? Bool == true)
                let stream = try await Self.call(client, "chat.startStream", "channel=C0ACMEGENERAL&thread_ts=\(question.ts)&markdown_text=Hel", auth: bearer)
                let ts = try #require(stream["ts"] as? String)
                _ = try await Self.call(client, "chat.appendStream", "channel=C0ACMEGENERAL&ts=\(ts)&markdown_text=lo", auth: bearer)
                var answer = try #require(await emulator.state.message(teamID: "T0ACME", channel: "C0ACMEGENERAL", ts: ts))
                #expect(answer.text == "Hello" && answer.streaming && answer.threadTS == question.ts)
                _ = try await Self.call(client, "chat.stopStream", "channel=C0ACMEGENERAL&ts=\(ts)&markdown_text=!", auth: bearer)
                #expect(try await Self.call(client, "chat.appendStream", "channel=C0ACMEGENERAL&ts=\(ts)&markdown_text=x", auth: bearer)["error"]
                    as? String == "message_not_in_streaming_state")
                _ = try await Self.call(client, "chat.update", "channel=C0ACMEGENERAL&ts=\(ts)&text=Hello%2C+edited", auth: bearer)
                answer = try #require(await emulator.state.message(teamID: "T0ACME", channel: "C0ACMEGENERAL", ts: ts))
                #expect(answer.text == "Hello, edited" && !answer.streaming && answer.edited)
                _ = try await Self.call(client, "chat.postEphemeral", "channel=C0ACMEGENERAL&user=U0ACMEMEMBER&text=slow+down", auth: bearer)

                let asMember = String(buffer: try await client.execute(uri: "/chat?team=T0ACME&channel=C0ACMEGENERAL&as=U0ACMEMEMBER", method: .get).body)
                #expect(asMember.contains("Hello, edited") && asMember.contains("slow down") && asMember.contains("Only visible to you"))
                #expect(asMember.contains("What are the limits?"))
                let asAdmin = String(buffer: try await client.execute(uri: "/chat?team=T0ACME&channel=C0ACMEGENERAL&as=U0ACMEADMIN", method: .get).body)
                #expect(asAdmin.contains("Hello, edited") && !asAdmin.contains("slow down"))
            }
        }
    }

    @Test("events: url_verification first, signed with v0 HMAC, retried with X-Slack-Retry-Num/Reason after a 500 and a timeout")
    func deliveryAndRetries() async throws {
        try await withStack { stack in
            let verifier = SlackSignatureVerifier(signingSecret: Self.secret)
            let (app, received) = try await Self.app(stack) { count, received in
                if received.path.hasSuffix("/events"), String(decoding: received.body, as: UTF8.self).contains("url_verification") {
                    return Self.challenge(received)
                }
                switch count {
                case 2: return Response(status: .internalServerError)
                case 3: try? await Task.sleep(for: .seconds(4)); return Response(status: .ok)  // past the timeout
                default: return Response(status: .ok)
                }
            }
            try await withEmulator(Self.configuration(app)) { emulator, client in
                _ = try await Self.install(client, team: "T0ACME", user: "U0ACMEADMIN")
                let message = await emulator.state.post(
                    teamID: "T0ACME", channel: "C0ACMEGENERAL", user: "U0ACMEMEMBER", text: "<@U0ACMEBOT> hello", threadTS: nil, isBot: false
                )
                await emulator.delivery.personPosted(message)
                let requests = received.withLockedValue { $0 }
                #expect(requests.count == 4, "verification, 500, timeout, success")
                for request in requests {
                    #expect(throws: Never.self) {
                        try verifier.verify(timestamp: request.headers["x-slack-request-timestamp"], signature: request.headers["x-slack-signature"], body: request.body)
                    }
                }
                #expect(requests[1].headers["x-slack-retry-num"] == nil)
                #expect(requests[2].headers["x-slack-retry-num"] == "1" && requests[2].headers["x-slack-retry-reason"] == "http_error")
                #expect(requests[3].headers["x-slack-retry-num"] == "2" && requests[3].headers["x-slack-retry-reason"] == "http_timeout")
                let envelope = try #require(try JSONSerialization.jsonObject(with: Data(requests[3].body)) as? [String: Any])
                #expect(envelope["type"] as? String == "event_callback" && envelope["team_id"] as? String == "T0ACME")
                #expect(envelope["event_id"] as? String == (try JSONSerialization.jsonObject(with: Data(requests[1].body)) as? [String: Any])?["event_id"] as? String)
                let event = try #require(envelope["event"] as? [String: Any])
                #expect(event["type"] as? String == "app_mention" && event["text"] as? String == "<@U0ACMEBOT> hello")

                // A DM is a `message` with channel_type im; Globex has not installed the app and gets nothing.
                let dm = await emulator.state.post(teamID: "T0ACME", channel: "D0ACMEMEMBER", user: "U0ACMEMEMBER", text: "hi", threadTS: nil, isBot: false)
                await emulator.delivery.personPosted(dm)
                let last = try #require(try JSONSerialization.jsonObject(with: Data(received.withLockedValue { $0.last!.body })) as? [String: Any])
                #expect((last["event"] as? [String: Any])?["channel_type"] as? String == "im")
                let before = received.withLockedValue { $0.count }
                let globex = await emulator.state.post(
                    teamID: "T0GLOBEX", channel: "C0GLOBEXGENERAL", user: "U0GLOBEXADMIN", text: "<@U0GLOBEXBOT> hi", threadTS: nil, isBot: false
                )
                await emulator.delivery.personPosted(globex)
                #expect(received.withLockedValue { $0.count } == before)
                #expect(await emulator.state.deliveries.last?.outcome.contains("not installed") == true)
            }
        }
    }

    @Test("New assistant thread in the DM: Slack's root message, and assistant_thread_started delivered signed for it")
    func assistantThreadStarted() async throws {
        try await withStack { stack in
            let verifier = SlackSignatureVerifier(signingSecret: Self.secret)
            let (app, received) = try await Self.app(stack) { _, received in
                String(decoding: received.body, as: UTF8.self).contains("url_verification") ? Self.challenge(received) : Response(status: .ok)
            }
            try await withEmulator(Self.configuration(app)) { emulator, client in
                _ = try await Self.install(client, team: "T0ACME", user: "U0ACMEADMIN")
                let dm = "team=T0ACME&channel=D0ACMEMEMBER&as=U0ACMEMEMBER"
                let page = try await client.execute(uri: "/chat?\(dm)", method: .get)
                #expect(String(buffer: page.body).contains("id=\"new-assistant-thread\""))
                let general = try await client.execute(uri: "/chat?team=T0ACME&channel=C0ACMEGENERAL&as=U0ACMEMEMBER", method: .get)
                #expect(!String(buffer: general.body).contains("new-assistant-thread"))

                let opened = try await client.execute(
                    uri: "/chat/assistant", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: dm)
                )
                #expect(opened.status == .seeOther)
                let deadline = ContinuousClock.now + .seconds(5)
                while received.withLockedValue({ $0.count }) < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
                let root = try #require(await emulator.state.world.messages.last)
                #expect(root.channel == "D0ACMEMEMBER" && root.user == "USLACKBOT" && root.threadTS == nil)
                let request = try #require(received.withLockedValue { $0.last })
                #expect(throws: Never.self) {
                    try verifier.verify(timestamp: request.headers["x-slack-request-timestamp"], signature: request.headers["x-slack-signature"], body: request.body)
                }
                let envelope = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
                let event = try #require(envelope["event"] as? [String: Any])
                #expect(event["type"] as? String == "assistant_thread_started")
                let thread = try #require(event["assistant_thread"] as? [String: Any])
                #expect(thread["user_id"] as? String == "U0ACMEMEMBER")
                #expect(thread["channel_id"] as? String == "D0ACMEMEMBER")
                #expect(thread["thread_ts"] as? String == root.ts)
                #expect((thread["context"] as? [String: Any])?["team_id"] as? String == "T0ACME")
                // What EnableBot's parser reads of it.
                let parsed = try SlackEventEnvelope(json: String(decoding: request.body, as: UTF8.self))
                #expect(parsed.event?.assistantThread?.threadTS == root.ts)
            }
        }
    }

    @Test("/ask goes to the commands URL signed and form-encoded; its ephemeral answer is shown to the asker")
    func slashCommand() async throws {
        try await withStack { stack in
            let (app, received) = try await Self.app(stack) { _, received in
                if received.path.hasSuffix("/events") { return Self.challenge(received) }
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: "{\"response_type\":\"ephemeral\",\"text\":\"Thinking…\"}")))
            }
            try await withEmulator(Self.configuration(app)) { emulator, client in
                _ = try await Self.install(client, team: "T0ACME", user: "U0ACMEADMIN")
                await emulator.delivery.command("/ask", text: "what?", teamID: "T0ACME", channelID: "C0ACMERANDOM", userID: "U0ACMEMEMBER")
                let command = try #require(received.withLockedValue { $0.last })
                #expect(command.path == "/slack/commands")
                let form = try #require(FormEncoding.decode(String(decoding: command.body, as: UTF8.self)))
                #expect(form["command"] == "/ask" && form["text"] == "what?" && form["team_id"] == "T0ACME" && form["channel_id"] == "C0ACMERANDOM")
                let shown = await emulator.state.world.messages.last
                #expect(shown?.text == "Thinking…" && shown?.ephemeralTo == "U0ACMEMEMBER")
            }
        }
    }

    @Test("a restart keeps workspaces, installations and the conversation (data file)")
    func persistence() async throws {
        let file = TestPaths.temporaryDirectory() + "/emulator.json"
        let first = EmulatorState(file: file, logger: Logger(label: "t"))
        await first.post(teamID: "T0ACME", channel: "C0ACMEGENERAL", user: "U0ACMEADMIN", text: "remember me", threadTS: nil, isBot: false)
        let second = EmulatorState(file: file, logger: Logger(label: "t"))
        #expect(await second.world.messages.map(\.text) == ["remember me"])
        #expect(await second.world.workspaces.map(\.name) == ["Acme", "Globex"])
        let next = await second.post(teamID: "T0ACME", channel: "C0ACMEGENERAL", user: "U0ACMEADMIN", text: "again", threadTS: nil, isBot: false)
        #expect(Double(next.ts)! > Double(await first.world.messages[0].ts)!)
    }

    @Test("configuration: development defaults agree with the services'; production refuses the emulator")
    func configuration() throws {
        let directory = TestPaths.temporaryDirectory()
        let c = try EmulatorConfiguration.load(environment: ["ENABLEBOT_DATA_DIR": directory, "API_PORT": "9101"])
        #expect(c.port == 8002)
        #expect(c.eventsURL == "http://127.0.0.1:9101/slack/events")
        #expect(c.commandsURL == "http://127.0.0.1:9101/slack/commands")
        #expect(c.dataFile == directory + "/emulator.json")
        let api = try Settings.load(service: .api, environment: ["ENABLEBOT_DATA_DIR": directory])
        #expect(c.signingSecret == api.slackSigningSecret)
        #expect(throws: ConfigurationError.self) {
            try EmulatorConfiguration.load(environment: ["ENABLEBOT_DATA_DIR": directory, "ENABLEBOT_ENV": "production"])
        }
    }
}
