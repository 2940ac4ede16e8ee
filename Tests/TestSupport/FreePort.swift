import Foundation
import NIOConcurrencyHelpers

/// Free loopback ports for the servers and processes tests start themselves.
///
/// Chosen below the kernel's ephemeral range (32768–60999 on Linux), where no outgoing connection takes its source
/// port, and never handed out twice by one test process: a port picked by binding to 0 was an ephemeral one, and
/// the many HTTP clients of a parallel test run could take it between the choice and the server's bind.
public enum FreePort {
    public struct Unavailable: Error, CustomStringConvertible {
        let call: String
        let errno: Int32
        public var description: String { "\(call) failed (errno \(errno)) while looking for a free port" }
    }

    private static let range = 20_000..<32_000
    private static let handedOut = NIOLockedValueBox<Set<Int>>([])

    /// A loopback TCP port nobody listens on right now, not handed out before by this process.
    public static func next() throws -> Int {
        for _ in 0..<500 {
            let candidate = Int.random(in: range)
            guard handedOut.withLockedValue({ $0.insert(candidate).inserted }) else { continue }
            if try bindable(candidate) { return candidate }
        }
        throw Unavailable(call: "bind", errno: EADDRINUSE)
    }

    /// Whether a listening socket could bind `port` on 127.0.0.1 now.
    private static func bindable(_ port: Int) throws -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FreePort.Unavailable(call: "socket", errno: errno) }
        defer { close(fd) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
