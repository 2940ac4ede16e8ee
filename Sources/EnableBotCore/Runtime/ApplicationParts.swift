import Logging
import ServiceLifecycle

/// What both applications start from: the database and Redis (given by a caller who owns them, such as a test, or
/// opened from the settings) and the outbound HTTP client (given, or a libcurl client), with the services that
/// own what was opened here, in the order they start.
public struct ApplicationParts: Sendable {
    public let backends: Backends
    public let http: any HTTPClient
    public var services: [any Service]

    public static func assemble(
        settings: Settings, logger: Logger, backends given: Backends?, http givenHTTP: (any HTTPClient)?
    ) async throws -> ApplicationParts {
        var services: [any Service] = []
        let backends: Backends
        if let given {
            backends = given
        } else {
            backends = try await Backends.open(settings: settings, logger: logger)
            services += backends.services
        }
        let http: any HTTPClient
        if let givenHTTP {
            http = givenHTTP
        } else {
            let curl = CurlHTTPClient()
            services.append(curl)
            http = curl
        }
        return ApplicationParts(backends: backends, http: http, services: services)
    }
}
