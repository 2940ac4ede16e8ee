import HTTPTypes
import Hummingbird

/// Security headers on every response, error pages included: a strict CSP without scripts, no framing,
/// no MIME sniffing, no referrer leaking codes or states to other sites.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Sent when the public URL is https: browsers then refuse plain http to this host for a year.
    let strictTransportSecurity: Bool

    static var contentSecurityPolicy: String {
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
            + "frame-ancestors 'none'; base-uri 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[xFrameOptions] = "DENY"
        response.headers[referrerPolicy] = "no-referrer"
        if strictTransportSecurity {
            response.headers[hsts] = "max-age=31536000"
        }
        if response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-store"
        }
        return response
    }
}

private let xFrameOptions = HTTPField.Name("X-Frame-Options")!
private let referrerPolicy = HTTPField.Name("Referrer-Policy")!
private let hsts = HTTPField.Name("Strict-Transport-Security")!
