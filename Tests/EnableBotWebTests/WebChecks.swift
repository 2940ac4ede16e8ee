import EnableBotCore
import Foundation
import Hummingbird
import Testing
import TestSupport

/// Steps and assertions the web tests share.
enum WebChecks {
    /// Opens the install page and returns the state its "Add to Slack" link carries.
    static func startInstall(_ browser: TestBrowser) async throws -> String {
        let page = try await browser.get("/slack/install")
        #expect(page.status == 200)
        let link = try #require(href(page.body, id: "add-to-slack"))
        return try #require(state(in: link))
    }

    /// A whole install of `workspace` in `browser`; returns the success page.
    @discardableResult
    static func install(_ h: WebTestHarness, _ browser: TestBrowser, _ workspace: FakeSlack.Workspace) async throws -> TestBrowser.Page {
        let state = try await startInstall(browser)
        let page = try await browser.get("/slack/oauth/callback?code=\(h.slack.issueInstallCode(workspace))&state=\(state)")
        #expect(page.status == 200)
        return page
    }

    /// Signs `browser` in with the operator password.
    static func operatorLogin(_ browser: TestBrowser) async throws {
        let form = try await browser.get("/login")
        let csrf = try #require(form.field("csrf_token"))
        let done = try await browser.post("/login", [("csrf_token", csrf), ("password", WebTestHarness.password)])
        #expect(done.status == 303)
        #expect(done.location == "/dashboard")
    }

    /// "Sign in with Slack" as `userID` of `teamID`; returns the callback's response.
    static func slackSignIn(
        _ h: WebTestHarness, _ browser: TestBrowser, userID: String, teamID: String, enterpriseID: String? = nil
    ) async throws -> TestBrowser.Page {
        let start = try await browser.get("/auth/slack")
        #expect(start.status == 303)
        let location = try #require(start.location)
        #expect(location.hasPrefix(h.slack.openIDAuthorizeURL + "?"))
        #expect(location.contains("scope=openid%20profile"))
        let state = try #require(Self.state(in: location))
        let code = h.slack.issueSignInCode(userID: userID, teamID: teamID, enterpriseID: enterpriseID)
        return try await browser.get("/auth/slack/callback?code=\(code)&state=\(state)")
    }

    /// The CSRF token on a dashboard page (the logout form carries one on every page).
    static func csrf(_ browser: TestBrowser, page path: String = "/dashboard") async throws -> String {
        let page = try await browser.get(path)
        #expect(page.status == 200)
        return try #require(page.field("csrf_token"))
    }

    static func href(_ html: String, id: String) -> String? {
        guard let tag = html.range(of: "id=\"\(id)\" href=\"") else { return nil }
        let rest = html[tag.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end]).replacingOccurrences(of: "&amp;", with: "&")
    }

    /// The query parameters of a link, decoded.
    static func query(of url: String) throws -> [String: String] {
        let query = try #require(url.split(separator: "?", maxSplits: 1).last.map(String.init))
        return try URLEncodedFormDecoder().decode([String: String].self, from: query)
    }

    static func state(in url: String) -> String? {
        guard let range = url.range(of: "state=") else { return nil }
        return String(url[range.upperBound...].prefix { $0 != "&" && $0 != "\"" })
    }

    static func expectSecurityHeaders(_ page: TestBrowser.Page, sourceLocation: SourceLocation = #_sourceLocation) {
        let csp = page.header("Content-Security-Policy") ?? ""
        #expect(csp.contains("frame-ancestors 'none'"), sourceLocation: sourceLocation)
        #expect(csp.contains("default-src 'none'"), sourceLocation: sourceLocation)
        #expect(page.header("X-Content-Type-Options") == "nosniff", sourceLocation: sourceLocation)
        #expect(page.header("Referrer-Policy") == "no-referrer", sourceLocation: sourceLocation)
    }

    static func expectNothingStored(_ h: WebTestHarness, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(try await h.stores.installations.all().isEmpty, sourceLocation: sourceLocation)
        #expect(try await h.database.database.query("SELECT * FROM audit_log").isEmpty, sourceLocation: sourceLocation)
    }

    /// No column of any table holds a token in plaintext: neither one the fake handed out nor anything shaped like one.
    static func expectNoPlaintextTokens(_ h: WebTestHarness, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let db = h.database.database
        let tables = try await db.query(
            db.dialect == .sqlite
                ? "SELECT name FROM sqlite_master WHERE type = 'table'"
                : "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).map { try $0.string("name") }
        #expect(tables.contains("installations"), sourceLocation: sourceLocation)
        let issued = h.slack.issuedTokens
        #expect(!issued.isEmpty, sourceLocation: sourceLocation)
        for table in tables {
            for row in try await db.query("SELECT * FROM \(table)") {
                for case .text(let text) in row.values {
                    for marker in ["xoxb-", "xoxp-", "xoxe-"] + issued {
                        #expect(!text.contains(marker), "plaintext token in \(table)", sourceLocation: sourceLocation)
                    }
                }
            }
        }
    }
}
