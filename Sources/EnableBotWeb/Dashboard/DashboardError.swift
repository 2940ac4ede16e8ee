/// Failures of the dashboard itself.
public enum DashboardError: Error, Equatable, Sendable {
    /// Another workspace's page, or an operator-only page for a workspace admin.
    case forbidden
    case notFound
    /// A form without a valid CSRF token (stale page, another session, or a forged request).
    case csrfInvalid
    case tooManyLoginAttempts(retryAfter: Int)
    /// Too many installs or sign-ins started from one address.
    case tooManyRequests(retryAfter: Int)
    case badRequest(String)
    /// Something a workspace admin may not do (raise a limit above the operator's, lift a suspension…): the
    /// sentence says what and why.
    case refused(String)
}
