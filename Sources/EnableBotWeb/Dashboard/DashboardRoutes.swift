import EnableBotCore
import Foundation
import Hummingbird

/// The dashboard: installations, one tenant's settings and status, the audit log, the system page.
/// Every route needs a session; a workspace admin reaches only their own tenant, whatever ids the URL or form carry.
struct DashboardRoutes {
    let environment: WebEnvironment

    /// Every route sits behind `SessionMiddleware`: the handlers find the session in the context.
    func add(to router: Router<WebRequestContext>) {
        let dashboard = router.group("dashboard").add(middleware: SessionMiddleware(environment: environment))
        dashboard.get { request, context in try await overview(request, context) }
        dashboard.get("tenants/{tenant}") { request, context in
            try await tenantPage(request, context, tenantID: try context.parameters.require("tenant"))
        }
        dashboard.post("tenants/{tenant}/settings") { request, context in
            try await saveSettings(request, context, tenantID: try context.parameters.require("tenant"))
        }
        dashboard.post("tenants/{tenant}/status") { request, context in
            try await changeStatus(request, context, tenantID: try context.parameters.require("tenant"))
        }
        dashboard.post("tenants/{tenant}/sessions/end") { request, context in
            try await endSessions(request, context, tenantID: try context.parameters.require("tenant"))
        }
        dashboard.get("audit") { request, context in try await auditPage(request, context) }
        dashboard.get("system") { request, context in try await systemPage(request, context) }
    }

    private var stores: Stores { environment.stores }

    // MARK: - Pages

    func overview(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let session = try context.requireSession()
        var installations = try await stores.installations.all()
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

    func tenantPage(_ request: Request, _ context: WebRequestContext, tenantID: String) async throws -> Response {
        let session = try context.requireSession()
        let installation = try await accessible(tenantID, session)
        let query = request.queryDictionary
        let notice: String? = switch query["done"] {
        case "settings": "Settings saved. The next event uses them."
        case "inactive": "EnableBot is deactivated in this workspace."
        case "active": "EnableBot is active again in this workspace."
        case "suspended": "EnableBot is suspended in this workspace. Only the operator can lift the suspension."
        case "lifted": "The suspension is lifted. EnableBot was uninstalled meanwhile: it answers again once the workspace reinstalls it."
        case "sessions": "Every dashboard session of this workspace's admins has ended."
        default: nil
        }
        return try await renderTenant(installation, session: session, notice: notice)
    }

    func renderTenant(
        _ installation: Installation, session: WebSession, notice: String? = nil, error: String? = nil,
        form: [String: String]? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        var values = try await summary(installation)
        let settings = installation.settings
        let currentModel = form?["model"] ?? settings.model ?? ""
        var models = environment.settings.llmModels
        if !currentModel.isEmpty, !models.contains(currentModel) { models.append(currentModel) }
        values["models"] = models.map { ["name": $0, "selected": $0 == currentModel] as [String: Any] }
        values["defaultModel"] = environment.settings.llmModel
        values["systemPrompt"] = form?["system_prompt"] ?? settings.systemPrompt ?? ""
        values["rateLimit"] = form?["rate_limit"] ?? settings.rateLimit?.description ?? ""
        values["rateLimitCeiling"] = (settings.rateLimitCeiling ?? environment.settings.rateLimitPerTenant).description
        values["tokenBudgetValue"] = form?["token_budget"] ?? settings.tokenBudget?.description ?? ""
        values["defaultTokenBudget"] = Self.budgetText(environment.settings.tokenBudgetPerTenant)
        values["suggestedPrompts"] = form?["suggested_prompts"] ?? settings.suggestedPrompts.map(SettingsForm.promptsText) ?? ""
        values["defaultSuggestedPrompts"] = SettingsForm.promptsText(SuggestedPrompt.defaults)
        values["maxSuggestedPrompts"] = SuggestedPrompt.maxCount
        values["isOperator"] = session.isOperator
        values["active"] = installation.status == .active
        values["suspended"] = installation.status == .suspended
        values["installerUserID"] = installation.installerUserID
        values["botUserID"] = installation.botUserID
        values["scopes"] = installation.scopes
        values["csrf"] = environment.signer.csrfToken(for: session)
        values["entries"] = try await auditRows(tenantID: installation.tenantID, action: nil, before: nil, limit: 20)
        if let notice { values["notice"] = notice }
        if let error { values["error"] = error }
        return environment.renderer.render("tenant", values, chrome: environment.chrome(installation.teamName, session), status: status)
    }

    func auditPage(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let session = try context.requireSession()
        let query = request.queryDictionary
        var tenantFilter = query["tenant"].flatMap { $0.isEmpty ? nil : $0 }
        if !session.isOperator {
            if let requested = tenantFilter, requested != session.tenantID { throw DashboardError.forbidden }
            tenantFilter = session.tenantID
        }
        let action = query["action"].flatMap { $0.isEmpty ? nil : $0 }
        let before = query["before"].flatMap { Int64($0) }
        let pageSize = 50
        let entries = try await stores.auditLog.recent(tenantID: tenantFilter, action: action, before: before, limit: pageSize)
        var values: [String: Any] = [
            "entries": entries.map(Self.auditRow),
            "actions": try await stores.auditLog.actions().map { ["name": $0, "selected": $0 == action] as [String: Any] },
        ]
        if session.isOperator {
            values["tenants"] = try await stores.installations.all().map {
                ["tenantID": $0.tenantID, "teamName": $0.teamName, "selected": $0.tenantID == tenantFilter] as [String: Any]
            }
        }
        if entries.count == pageSize, let last = entries.last {
            var params = ["before": String(last.id)]
            if session.isOperator, let tenantFilter { params["tenant"] = tenantFilter }
            if let action { params["action"] = action }
            values["olderURL"] = "/dashboard/audit?" + formQuery(params)
        }
        return environment.renderer.render("audit", values, chrome: environment.chrome("Audit log", session))
    }

    func systemPage(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let session = try context.requireSession()
        guard session.isOperator else { throw DashboardError.forbidden }
        let settings = environment.settings
        let health = await environment.health.report(service: .web)
        let keys = try await keyAges().map { key -> [String: Any] in
            [
                "keyID": key.keyID, "role": key.isActive ? "active (encrypts)" : "decrypts only",
                "firstSeenAt": PageRenderer.date(key.firstSeenAt), "ageDays": key.ageDays, "rotationDue": key.rotationDue,
                "isActive": key.isActive, "daysLeft": max(0, settings.keyRotationDays - key.ageDays),
            ]
        }
        let values: [String: Any] = [
            "keys": keys, "rotationDays": settings.keyRotationDays,
            "databaseStatus": health.checks["database"] ?? "error", "databaseKind": environment.databaseKind,
            "redisStatus": health.checks["redis"] ?? "disabled",
            "environment": settings.environment.rawValue,
            "deadJobs": (try? await stores.jobs.count(status: .dead)) ?? 0,
        ]
        return environment.renderer.render("system", values, chrome: environment.chrome("System", session))
    }

    // MARK: - Changes

    /// A workspace admin may change the prompt, pick a model from `LLM_MODELS` and lower the rate limit, never
    /// raise it above the operator's ceiling. The operator's rate limit for a workspace is that ceiling.
    func saveSettings(_ request: Request, _ context: WebRequestContext, tenantID: String) async throws -> Response {
        let session = try context.requireSession()
        let form = try await environment.readForm(request, context: context)
        let installation = try await accessible(tenantID, session)
        let validated: TenantSettings
        let budget: TokenBudget??
        let prompts: [SuggestedPrompt]??
        do {
            validated = try SettingsForm.validate(form)
            budget = try SettingsForm.tokenBudget(form)
            prompts = try SettingsForm.suggestedPrompts(form)
        } catch let error as SettingsForm.Invalid {
            return try await renderTenant(installation, session: session, error: error.message, form: form, status: .badRequest)
        }
        let current = installation.settings
        var updated = current
        updated.systemPrompt = validated.systemPrompt
        updated.model = validated.model
        // The workspace's admins and the operator alike; a form without the field leaves them as they are.
        if let prompts { updated.suggestedPrompts = prompts }
        if let model = validated.model, model != current.model, !environment.settings.llmModels.contains(model), !session.isOperator {
            throw await environment.refuse(
                "The model must be one the operator allows: \(environment.settings.llmModels.joined(separator: ", ")).",
                tenantID: tenantID, session: session
            )
        }
        // The token budget is the operator's alone; a form without the field leaves it as it is.
        if let budget, budget != current.tokenBudget {
            guard session.isOperator else {
                throw await environment.refuse(
                    "Only the operator can change this workspace's token budget.", tenantID: tenantID, session: session
                )
            }
            updated.tokenBudget = budget
        }
        if session.isOperator {
            updated.rateLimitCeiling = validated.rateLimit
            updated.rateLimit = validated.rateLimit
        } else {
            let ceiling = current.rateLimitCeiling ?? environment.settings.rateLimitPerTenant
            if let wanted = validated.rateLimit, !wanted.isWithin(ceiling) {
                throw await environment.refuse(
                    "The rate limit can only be lowered: at most \(ceiling), the operator's limit for this workspace.",
                    tenantID: tenantID, session: session
                )
            }
            updated.rateLimit = validated.rateLimit
        }
        try await stores.installations.updateSettings(tenantID: tenantID, settings: updated)
        await environment.audit(
            tenantID: tenantID, actor: session.actor, action: "settings_changed",
            detail: SettingsForm.describeChange(from: current, to: updated)
        )
        return .redirect(to: "/dashboard/tenants/\(Self.pathSegment(tenantID))?done=settings")
    }

    /// A workspace admin may deactivate the bot and reactivate it, unless the operator suspended it: only the
    /// operator suspends and lifts a suspension.
    func changeStatus(_ request: Request, _ context: WebRequestContext, tenantID: String) async throws -> Response {
        let session = try context.requireSession()
        let form = try await environment.readForm(request, context: context)
        let installation = try await accessible(tenantID, session)
        guard let status = form["status"].flatMap(Installation.Status.init(rawValue:)) else {
            throw DashboardError.badRequest("The form asked for an unknown status.")
        }
        if !session.isOperator {
            if status == .suspended {
                throw await environment.refuse("Only the operator can suspend a workspace.", tenantID: tenantID, session: session)
            }
            if installation.status == .suspended {
                throw await environment.refuse(
                    "The operator suspended EnableBot in this workspace; only the operator can lift the suspension.",
                    tenantID: tenantID, session: session
                )
            }
        }
        var target = status
        if status == .active, installation.status != .active,
           (try? await stores.installations.tokens(tenantID: tenantID))??.botToken == nil {
            guard installation.status == .suspended else {
                return try await renderTenant(
                    installation, session: session,
                    error: "EnableBot was uninstalled from this workspace, so it has no token: install it again to reactivate it.",
                    status: .conflict
                )
            }
            // Lifting the suspension of an uninstalled workspace: it becomes an ordinary uninstalled one.
            target = .inactive
        }
        if target != installation.status {
            try await stores.installations.setStatus(tenantID: tenantID, status: target)
            let action = switch (installation.status, target) {
            case (_, .suspended): "suspended"
            case (.suspended, _): "suspension_lifted"
            case (_, .active): "reactivated"
            default: "deactivated"
            }
            await environment.audit(tenantID: tenantID, actor: session.actor, action: action)
        }
        let done = installation.status == .suspended && target == .inactive ? "lifted" : target.rawValue
        return .redirect(to: "/dashboard/tenants/\(Self.pathSegment(tenantID))?done=\(done)")
    }

    /// The operator ends every dashboard session of a workspace's admins (say, after someone left).
    func endSessions(_ request: Request, _ context: WebRequestContext, tenantID: String) async throws -> Response {
        let session = try context.requireSession()
        _ = try await environment.readForm(request, context: context)
        _ = try await accessible(tenantID, session)
        guard session.isOperator else {
            throw await environment.refuse(
                "Only the operator can end other people's sessions; use “Sign out everywhere” for your own.",
                tenantID: tenantID, session: session
            )
        }
        let count = try await environment.sessions.endAll(tenantID: tenantID)
        await environment.audit(tenantID: tenantID, actor: session.actor, action: "sessions_ended", detail: "\(count) admin(s)")
        return .redirect(to: "/dashboard/tenants/\(Self.pathSegment(tenantID))?done=sessions")
    }

    // MARK: - Helpers

    /// The installation, if this session may manage it: 403 for someone else's tenant (checked before the
    /// lookup, so a workspace admin cannot even probe which other tenants exist), 404 for none.
    private func accessible(_ tenantID: String, _ session: WebSession) async throws -> Installation {
        guard session.canManage(tenantID: tenantID) else { throw DashboardError.forbidden }
        guard let installation = try await stores.installations.find(tenantID: tenantID) else { throw DashboardError.notFound }
        return installation
    }

    private func summary(_ installation: Installation) async throws -> [String: Any] {
        let today = try await stores.usage.today(tenantID: installation.tenantID)
        let month = try await stores.usage.thisMonth(tenantID: installation.tenantID)
        var row: [String: Any] = [
            "tenantID": installation.tenantID, "teamName": installation.teamName, "status": installation.status.rawValue,
            "orgWide": installation.isEnterpriseInstall, "installedAt": PageRenderer.date(installation.installedAt),
            "eventsToday": today.events, "eventsMonth": month.events,
            "rateLimitedToday": today.rateLimited, "rateLimitedMonth": month.rateLimited,
            "rateLimit": installation.settings.effectiveRateLimit(default: environment.settings.rateLimitPerTenant).description,
        ]
        let budget = installation.settings.effectiveTokenBudget(default: environment.settings.tokenBudgetPerTenant)
        row["tokensMonth"] = Self.number(month.tokens)
        row["promptTokensMonth"] = Self.number(month.promptTokens)
        row["completionTokensMonth"] = Self.number(month.completionTokens)
        row["tokenBudget"] = Self.budgetText(budget)
        if !budget.isUnlimited {
            row["tokenBudgetPercent"] = min(999, Int(month.tokens * 100 / budget.tokensPerMonth))
            if budget.isExhausted(byUsing: month.tokens) { row["budgetExhausted"] = true }
        }
        // Absent rather than empty, so the templates' inverted sections ("none") see it as missing.
        if let lastError = installation.lastError, !lastError.isEmpty { row["lastError"] = lastError }
        return row
    }

    private func auditRows(tenantID: String?, action: String?, before: Int64?, limit: Int) async throws -> [[String: Any]] {
        try await stores.auditLog.recent(tenantID: tenantID, action: action, before: before, limit: limit).map(Self.auditRow)
    }

    static func auditRow(_ entry: AuditEntry) -> [String: Any] {
        [
            "createdAt": PageRenderer.date(entry.createdAt), "tenantID": entry.tenantID ?? "–", "actor": entry.actor,
            "action": entry.action, "detail": entry.detail,
        ]
    }

    private func keyAges() async throws -> [KeyAge] {
        try await stores.keys.ages(keyIDs: environment.settings.encryptionKeys.map(\.id), rotationDays: environment.settings.keyRotationDays)
    }

    /// "2,000,000 tokens/month", or "unlimited".
    static func budgetText(_ budget: TokenBudget) -> String {
        budget.isUnlimited ? "unlimited" : "\(number(budget.tokensPerMonth)) tokens/month"
    }

    /// 1234567 → "1,234,567".
    static func number(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + out
    }

    static func pathSegment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }
}
