import Hummingbird
import NIOCore

/// The request context of enablebot-web: Hummingbird's basics, the TCP peer (the throttles key on the client's
/// address, see `ClientAddressResolver`) and, on the `/dashboard` and `/logout` routes, the signed-in session.
public struct WebRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Set by `SessionMiddleware`.
    var session: WebSession?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    func requireSession() throws -> WebSession {
        guard let session else { throw SignInRequired() }
        return session
    }
}
