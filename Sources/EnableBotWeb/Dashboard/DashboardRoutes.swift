import EnableBotCore
import Foundation
import Hummingbird

/// The dashboard: installations, one tenant's settings and status, the audit log, the system page.
/// Every route needs a session; a workspace admin reaches only their own tenant, whatever ids the URL or form carry.
struct DashboardRoutes {
    let environment: WebEnvironment

    func add(to router: Router<WebRequestContext>) {
        router.get("/dashboard") { request, _ in try await overview(request) }
        router.get("/dashboard/tenants/{tenant}") { request, context in
            try await tenantPage(request, tenantID: try context.parameters.require("tenant"))
        }
        router.post("/dashboard/tenants/{tenant}/settings") { request, context in
            try await saveSettings(request, tenantID: try context.parameters.require("tenant"))
        }
        router.post("/dashboard/tenants/{tenant}/status") { request, context in
            try await changeStatus(request, tenantID: try context.parameters.require("tenant"))
        }
        router.get("/dashboard/audit") { request, _ in try await auditPage(request) }
        router.get("/dashboard/system") { request, _ in try await systemPage(request) }
    }

    private var runtime: CoreRuntime { environment.runtime }

    // MARK: - Pages

    func overview(_ request: Request) async throws -> Response {
        let session = try environment.requireSession(request)
        var installations = try await runtime.installations.all()
        if !session.isOperator { installations = installations.filter { session.canManage(tenantID: $0.tenantID) } }
        var rows: [[String: Any]] = []
        for installation in installations { rows.append(try await summary(installation)) }
        var values: [String: Any] = [
            "installations": rows,
            "entries": try await auditRows(tenantID: session.isOperator ? nil : session.tenantID, action: nil, before: nil, limit: 10),
        ]
        if session.isOperator, let active = try await keyAges().first, active.rotationDue {
            values["keyWarning"] = ["keyID": active.keyID, "ageDays": active.ageDays, "rotationDays": environment.settings.keyRotationDays] as [String: Any]
        }
        return environment.renderer.render("dashboard", values, chrome: environment.chrome("Installations", session))
    }

    func tenantPage(_ request: Request, tenantID: String) async throws -> Response {
        let session = try environment.requireSession(request)
        let installation = try await accessible(tenantID, session)
        let query = request.queryDictionary
        let notice: String? = switch query["done"] {
        case "settings": "Settings saved. The next event uses them."
        case "inactive": "EnableBot is deactivated in this workspace."
        case "active": "EnableBot is active again in this workspace."
        default: nil
        }
        return try await renderTenant(installation, session: session, notice: notice)
    }

    func renderTenant(
        _ installation: Installation, session: WebSession, notice: String? = nil, error: String? = nil,
        form: [String: String]? = nil, status: HTTPStatus = .ok
    ) async throws -> Response {
        var values = try await summary(installation)
        let settings = installation.settings
        values["model"] = form?["model"] ?? settings.model ?? ""
        values["systemPrompt"] = form?["system_prompt"] ?? settings.systemPrompt ?? ""
        values["rateLimit"] = form?["rate_limit"] ?? settings.rateLimit?.description ?? ""
        values["defaultModel"] = "the deployment's LLM_MODEL"
        values["defaultRateLimit"] = "RATE_LIMIT_PER_TENANT"
        values["active"] = installation.status == .active
        values["installerUserID"] = installation.installerUserID
        values["botUserID"] = installation.botUserID
        values["scopes"] = installation.scopes
        values["csrf"] = environment.signer.csrfToken(for: session)
        values["entries"] = try await auditRows(tenantID: installation.tenantID, action: nil, before: nil, limit: 20)
        if let notice { values["notice"] = notice }
        if let error { values["error"] = error }
        return environment.renderer.render("tenant", values, chrome: environment.chrome(installation.teamName, session), status: status)
    }

    func auditPage(_ request: Request) async throws -> Response {
        let session = try environment.requireSession(request)
        let query = request.queryDictionary
        var tenantFilter = query["tenant"].flatMap { $0.isEmpty ? nil : $0 }
        if !session.isOperator {
            if let requested = tenantFilter, requested != session.tenantID { throw DashboardError.forbidden }
            tenantFilter = session.tenantID
        }
        let action = query["action"].flatMap { $0.isEmpty ? nil : $0 }
        let before = query["before"].flatMap { Int64($0) }
        let pageSize = 50
        let entries = try await runtime.auditLog.recent(tenantID: tenantFilter, action: action, before: before, limit: pageSize)
        var values: [String: Any] = [
            "entries": entries.map(Self.auditRow),
            "actions": try await runtime.auditLog.actions().map { ["name": $0, "selected": $0 == action] as [String: Any] },
        ]
        if session.isOperator {
            values["tenants"] = try await runtime.installations.all().map {
                ["tenantID": $0.tenantID, "teamName": $0.teamName, "selected": $0.tenantID == tenantFilter] as [String: Any]
            }
        }
        if entries.count == pageSize, let last = entries.last {
            var params: [(String, String)] = []
            if session.isOperator, let tenantFilter { params.append(("tenant", tenantFilter)) }
            if let action { params.append(("action", action)) }
            params.append(("before", String(last.id)))
            values["olderURL"] = "/dashboard/audit?" + WebForm.query(params)
        }
        return environment.renderer.render("audit", values, chrome: environment.chrome("Audit log", session))
    }

    func systemPage(_ request: Request) async throws -> Response {
        let session = try environment.requireSession(request)
        guard session.isOperator else { throw DashboardError.forbidden }
        let settings = environment.settings
        let health = await runtime.healthReport(service: .web)
        let keys = try await keyAges().map { key -> [String: Any] in
            [
                "keyID": key.keyID, "role": key.isActive ? "active (encrypts)" : "decrypts only",
                "firstSeenAt": PageRenderer.date(key.firstSeenAt), "ageDays": key.ageDays, "rotationDue": key.rotationDue,
                "isActive": key.isActive, "daysLeft": max(0, settings.keyRotationDays - key.ageDays),
            ]
        }
        let values: [String: Any] = [
            "keys": keys, "rotationDays": settings.keyRotationDays,
            "databaseStatus": health.checks["database"] ?? "error", "databaseKind": runtime.database.dialect.rawValue,
            "redisStatus": health.checks["redis"] ?? "disabled",
            "environment": settings.environment.rawValue,
            "deadJobs": (try? await runtime.jobs.count(status: .dead)) ?? 0,
        ]
        return environment.renderer.render("system", values, chrome: environment.chrome("System", session))
    }

    // MARK: - Changes

    func saveSettings(_ request: Request, tenantID: String) async throws -> Response {
        let session = try environment.requireSession(request)
        let form = try await environment.readForm(request, session: session)
        let installation = try await accessible(tenantID, session)
        let validated: TenantSettings
        do {
            validated = try SettingsForm.validate(form)
        } catch let error as SettingsForm.Invalid {
            return try await renderTenant(installation, session: session, error: error.message, form: form, status: .badRequest)
        }
        try await runtime.installations.updateSettings(tenantID: tenantID, settings: validated)
        await environment.audit(
            tenantID: tenantID, actor: session.actor, action: "settings_changed",
            detail: SettingsForm.describeChange(from: installation.settings, to: validated)
        )
        return .redirect(to: "/dashboard/tenants/\(Self.pathSegment(tenantID))?done=settings")
    }

    func changeStatus(_ request: Request, tenantID: String) async throws -> Response {
        let session = try environment.requireSession(request)
        let form = try await environment.readForm(request, session: session)
        let installation = try await accessible(tenantID, session)
        guard let status = form["status"].flatMap(Installation.Status.init(rawValue:)) else {
            throw DashboardError.badRequest("The form asked for an unknown status.")
        }
        if status == .active, installation.status == .inactive,
           (try? await runtime.installations.tokens(tenantID: tenantID))??.botToken == nil {
            return try await renderTenant(
                installation, session: session,
                error: "EnableBot was uninstalled from this workspace, so it has no token: install it again to reactivate it.",
                status: .conflict
            )
        }
        if status != installation.status {
            try await runtime.installations.setStatus(tenantID: tenantID, status: status)
            await environment.audit(tenantID: tenantID, actor: session.actor, action: status == .active ? "reactivated" : "deactivated")
        }
        return .redirect(to: "/dashboard/tenants/\(Self.pathSegment(tenantID))?done=\(status.rawValue)")
    }

    // MARK: - Helpers

    /// The installation, if this session may manage it: 403 for someone else's tenant (checked before the
    /// lookup, so a workspace admin cannot even probe which other tenants exist), 404 for none.
    private func accessible(_ tenantID: String, _ session: WebSession) async throws -> Installation {
        guard session.canManage(tenantID: tenantID) else { throw DashboardError.forbidden }
        guard let installation = try await runtime.installations.find(tenantID: tenantID) else { throw DashboardError.notFound }
        return installation
    }

    private func summary(_ installation: Installation) async throws -> [String: Any] {
        let today = try await runtime.usage.today(tenantID: installation.tenantID)
        let month = try await runtime.usage.thisMonth(tenantID: installation.tenantID)
        var row: [String: Any] = [
            "tenantID": installation.tenantID, "teamName": installation.teamName, "status": installation.status.rawValue,
            "orgWide": installation.isEnterpriseInstall, "installedAt": PageRenderer.date(installation.installedAt),
            "eventsToday": today.events, "eventsMonth": month.events,
            "rateLimitedToday": today.rateLimited, "rateLimitedMonth": month.rateLimited,
            "rateLimit": installation.settings.rateLimit?.description ?? "default",
        ]
        // Absent rather than empty, so the templates' inverted sections ("none") see it as missing.
        if let lastError = installation.lastError, !lastError.isEmpty { row["lastError"] = lastError }
        return row
    }

    private func auditRows(tenantID: String?, action: String?, before: Int64?, limit: Int) async throws -> [[String: Any]] {
        try await runtime.auditLog.recent(tenantID: tenantID, action: action, before: before, limit: limit).map(Self.auditRow)
    }

    static func auditRow(_ entry: AuditEntry) -> [String: Any] {
        [
            "createdAt": PageRenderer.date(entry.createdAt), "tenantID": entry.tenantID ?? "–", "actor": entry.actor,
            "action": entry.action, "detail": entry.detail,
        ]
    }

    private func keyAges() async throws -> [KeyAge] {
        try await runtime.keys.ages(keyIDs: environment.settings.encryptionKeys.map(\.id), rotationDays: environment.settings.keyRotationDays)
    }

    static func pathSegment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }
}
