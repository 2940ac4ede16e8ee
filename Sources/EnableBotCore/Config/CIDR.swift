import Foundation

/// An IPv4 or IPv6 network such as `10.0.0.0/8` or `fd00::/8` (`TRUSTED_PROXIES`).
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    /// The network address's bytes: 4 for IPv4, 16 for IPv6.
    public let network: [UInt8]
    public let prefixLength: Int

    /// Parses `ADDRESS/BITS`, or a bare address (a single host).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.bytes(of: String(parts[0])) else { return nil }
        let bits = address.count * 8
        var length = bits
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...bits).contains(parsed) else { return nil }
            length = parsed
        }
        network = Self.masked(address, length)
        prefixLength = length
    }

    /// Whether `address` (IPv4 or IPv6 text; an IPv4-mapped IPv6 address counts as IPv4) lies in this network.
    public func contains(_ address: String) -> Bool {
        guard var bytes = Self.bytes(of: address) else { return false }
        if bytes.count == 16, network.count == 4, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == network.count else { return false }
        return Self.masked(bytes, prefixLength) == network
    }

    public var description: String {
        let address: String
        if network.count == 4 {
            address = network.map(String.init).joined(separator: ".")
        } else {
            address = stride(from: 0, to: 16, by: 2).map { String(UInt16(network[$0]) << 8 | UInt16(network[$0 + 1]), radix: 16) }
                .joined(separator: ":")
        }
        return "\(address)/\(prefixLength)"
    }

    /// The bytes of an IPv4 or IPv6 address, or nil when the text is neither.
    public static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    private static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bitsHere = max(0, min(8, length - index * 8))
            return bitsHere == 8 ? byte : byte & ~(UInt8(0xFF) >> bitsHere)
        }
    }
}

/// Who a request really came from: the TCP peer, or, when the peer is one of the trusted load balancers, the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy. A client cannot choose its own
/// address by sending the header, since only hops added by trusted proxies are believed.
public struct ClientAddressResolver: Sendable {
    public let trustedProxies: [CIDR]

    public init(trustedProxies: [CIDR]) {
        self.trustedProxies = trustedProxies
    }

    public func isTrusted(_ address: String) -> Bool {
        trustedProxies.contains { $0.contains(address) }
    }

    /// - Parameters:
    ///   - peer: the TCP peer's address, nil when unknown.
    ///   - forwardedFor: every `X-Forwarded-For` header value, in order.
    public func clientAddress(peer: String?, forwardedFor: [String]) -> String {
        guard let peer else { return "unknown" }
        guard isTrusted(peer) else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        // Walk from the nearest hop outwards; the first one no trusted proxy vouches for is the client.
        for hop in hops.reversed() {
            guard CIDR.bytes(of: hop) != nil else { return peer }
            if !isTrusted(hop) { return hop }
        }
        return hops.first(where: { CIDR.bytes(of: $0) != nil }) ?? peer
    }
}
