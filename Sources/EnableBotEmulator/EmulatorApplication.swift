import EnableBotCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle

/// The Slack emulator: its state, its event delivery and its routes.
public struct Emulator: Sendable {
    public let configuration: EmulatorConfiguration
    public let state: EmulatorState
    public let delivery: EventDelivery
    let logger: Logger

    public init(configuration: EmulatorConfiguration, http: any HTTPClient, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        state = EmulatorState(file: configuration.dataFile, logger: logger)
        delivery = EventDelivery(state: state, http: http, configuration: configuration, logger: logger)
    }

    public func addRoutes(to router: Router<BasicRequestContext>) {
        let api = WebAPI(state: state, clientID: configuration.clientID, clientSecret: configuration.clientSecret, origin: configuration.origin)
        let consent = ConsentPages(state: state, clientID: configuration.clientID)
        let chat = ChatPage(state: state, configuration: configuration)
        let delivery = self.delivery
        let state = self.state

        router.get("/health") { _, _ in Self.json(["status": "ok", "service": "emulator"]) }
        router.get("/") { _, _ in HTML.redirect("/chat") }

        router.post("/api/{method}") { request, context -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let call = APICall(
                method: context.parameters.get("method") ?? "", authorization: request.headers[.authorization],
                contentType: request.headers[.contentType], body: Array(body.readableBytesView)
            )
            return Self.json(await api.answer(call))
        }

        for flow in [ConsentPages.Flow.install, .signIn] {
            router.get(RouterPath(flow.path)) { request, _ in await consent.page(flow, query: Self.query(request)) }
            router.post(RouterPath(flow.path)) { request, _ in await consent.decide(flow, form: try await Self.form(request)) }
        }

        router.get("/chat") { request, _ -> Response in
            guard let place = await chat.place(Self.query(request)) else { return HTML.page(title: "Not found", body: "No such place", status: .notFound) }
            return await chat.render(place)
        }
        router.get("/chat/messages") { request, _ -> Response in
            let query = Self.query(request)
            guard let place = await chat.place(query) else { return Response(status: .notFound) }
            let after = Int(query["after"] ?? "") ?? -1
            let version = await state.waitForChange(after: after, timeout: .seconds(25))
            guard version > after else { return Response(status: .noContent) }
            return Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("X-Emulator-Version")!: "\(version)"],
                body: .init(byteBuffer: ByteBuffer(string: await chat.messagesHTML(place)))
            )
        }
        router.post("/chat/send") { request, _ -> Response in
            let form = try await Self.form(request)
            guard let place = await chat.place(form) else { return Response(status: .notFound) }
            let typed = (form["text"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !typed.isEmpty else { return HTML.redirect(place.link) }
            let thread = form["thread_ts"].flatMap { $0.isEmpty ? nil : $0 }
            if typed.hasPrefix("/") {
                let parts = typed.split(separator: " ", maxSplits: 1).map(String.init)
                let command = parts[0], text = parts.count > 1 ? parts[1] : ""
                if command == "/ask" {
                    Task {
                        await delivery.command(
                            command, text: text, teamID: place.workspace.id, channelID: place.channel.id, userID: place.user.id
                        )
                    }
                } else {
                    await state.post(
                        teamID: place.workspace.id, channel: place.channel.id, user: "USLACKBOT",
                        text: "\(command) is not a valid command. EnableBot's command is /ask.", threadTS: nil, isBot: true,
                        ephemeralTo: place.user.id
                    )
                }
                return HTML.redirect(place.link)
            }
            let message = await state.post(
                teamID: place.workspace.id, channel: place.channel.id, user: place.user.id,
                text: SlackText.fromPerson(typed, workspace: place.workspace), threadTS: thread, isBot: false
            )
            Task { await delivery.personPosted(message) }
            return HTML.redirect(place.link)
        }
        router.post("/chat/assistant") { request, _ -> Response in
            // "New assistant thread" in the DM with the bot: Slack opens the thread (its root is Slack's, not the
            // person's words) and the app hears assistant_thread_started for it.
            let form = try await Self.form(request)
            guard let place = await chat.place(form), place.channel.isIM else { return Response(status: .notFound) }
            let root = await state.post(
                teamID: place.workspace.id, channel: place.channel.id, user: "USLACKBOT", text: "New assistant thread",
                threadTS: nil, isBot: true
            )
            Task { await delivery.assistantThreadStarted(root, userID: place.user.id) }
            return HTML.redirect(place.link)
        }
        router.post("/chat/verify") { request, _ -> Response in
            let form = try await Self.form(request)
            await delivery.verifyRequestURL()
            return HTML.redirect(await chat.place(form)?.link ?? "/chat")
        }
        router.post("/chat/clear") { request, _ -> Response in
            let form = try await Self.form(request)
            guard let place = await chat.place(form) else { return Response(status: .notFound) }
            await state.clearMessages(teamID: place.workspace.id)
            return HTML.redirect(place.link)
        }
        router.post("/chat/uninstall") { request, _ -> Response in
            let form = try await Self.form(request)
            guard let place = await chat.place(form) else { return Response(status: .notFound) }
            Task { await delivery.uninstall(teamID: place.workspace.id) }
            return HTML.redirect(place.link)
        }
        router.post("/commands/response/{id}") { request, context -> Response in
            guard let target = await state.responseURL(context.parameters.get("id") ?? "") else { return Response(status: .notFound) }
            let body = try await request.body.collect(upTo: 1 << 20)
            await delivery.respond(teamID: target.teamID, channelID: target.channel, userID: target.user, body: Array(body.readableBytesView))
            return Response(status: .ok)
        }
    }

    static func query(_ request: Request) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { out[String(key)] = String(value) }
        return out
    }

    static func form(_ request: Request) async throws -> [String: String] {
        let body = try await request.body.collect(upTo: 1 << 20)
        return FormEncoding.decode(String(decoding: body.readableBytesView, as: UTF8.self)) ?? [:]
    }

    static func json(_ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}

/// Verifies the events request URL once the app is up (it may start after the emulator), then idles.
struct RequestURLCheck: Service {
    let delivery: EventDelivery

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await delivery.verifyAtStart()
        }
        try? await gracefulShutdown()
    }
}

/// The emulator as a Hummingbird application with its HTTP client and request URL check as services.
public func buildEmulatorApplication(
    configuration: EmulatorConfiguration, logger: Logger
) -> (emulator: Emulator, application: some ApplicationProtocol) {
    let http = CurlHTTPClient()
    let emulator = Emulator(configuration: configuration, http: http, logger: logger)
    let router = Router()
    emulator.addRoutes(to: router)
    let application = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "enablebot-emulator"),
        services: [http, RequestURLCheck(delivery: emulator.delivery)],
        logger: logger
    )
    return (emulator, application)
}
