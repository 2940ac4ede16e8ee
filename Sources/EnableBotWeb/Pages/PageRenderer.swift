import EnableBotCore
import Foundation
import Hummingbird
import Mustache

/// What every page's layout needs: its title and, once signed in, who it is and the logout form's CSRF token.
struct PageChrome {
    var title: String
    var session: WebSession?
    var csrf: String?
}

/// Renders `Templates/*.mustache` (loaded once from the bundle) into HTML responses. Every `{{value}}` is
/// HTML-escaped by Mustache; no template uses the unescaped `{{{ }}}` form.
struct PageRenderer: Sendable {
    struct LoadError: Error, CustomStringConvertible {
        var description: String
    }

    let library: MustacheLibrary
    let stylesheet: [UInt8]

    static func load() async throws -> PageRenderer {
        guard let templates = Bundle.module.url(forResource: "Templates", withExtension: nil),
              let stylesheet = Bundle.module.url(forResource: "Static/style.css", withExtension: nil)
        else { throw LoadError(description: "the web templates are missing from the EnableBotWeb bundle") }
        let library = try await MustacheLibrary(directory: templates.path)
        return PageRenderer(library: library, stylesheet: Array(try Data(contentsOf: stylesheet)))
    }

    func render(_ template: String, _ values: [String: Any], chrome: PageChrome, status: HTTPResponse.Status = .ok) -> Response {
        var context = values
        context["title"] = chrome.title
        context["version"] = EnableBotVersion.current
        if let session = chrome.session {
            context["session"] = [
                "name": session.displayName, "isOperator": session.isOperator, "csrf": chrome.csrf ?? "",
            ] as [String: Any]
        }
        context["isOperator"] = chrome.session?.isOperator ?? false
        let html = library.render(context, withTemplate: template) ?? "<!doctype html><title>EnableBot</title><p>Page missing.</p>"
        return Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html))
        )
    }

    /// The failure page for any error a handler throws: domain errors say what happened and what to do next;
    /// anything else is a plain 500 with a reference to the log line (never the error text itself).
    func failure(_ error: any Error, session: WebSession? = nil, csrf: String? = nil, reference: String? = nil) -> Response {
        let page = FailurePage(error)
        var values: [String: Any] = [
            "heading": page.heading, "message": page.message, "status": String(page.status.code),
        ]
        if let url = page.actionURL {
            values["actionURL"] = url
            values["actionLabel"] = page.actionLabel
        }
        if page.status.code >= 500, let reference { values["reference"] = reference }
        var response = render("failure", values, chrome: PageChrome(title: page.heading, session: session, csrf: csrf), status: page.status)
        if let retryAfter = page.retryAfter { response.headers[.retryAfter] = String(retryAfter) }
        return response
    }

    static func date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter.string(from: date)
    }
}
