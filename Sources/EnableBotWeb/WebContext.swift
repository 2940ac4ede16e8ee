import Hummingbird
import NIOCore

/// The request context of enablebot-web: Hummingbird's basics plus the client's address, which the
/// login rate limit keys on.
public struct WebRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The peer's IP address. Deliberately not `X-Forwarded-For`, which any client can set.
    var clientAddress: String {
        remoteAddress?.ipAddress ?? "unknown"
    }
}
