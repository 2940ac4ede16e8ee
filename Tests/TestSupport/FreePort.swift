import Foundation

/// Free loopback ports for the test servers (PostgreSQL, Redis) a test starts itself.
public enum FreePort {
    public struct Unavailable: Error, CustomStringConvertible {
        let call: String
        let errno: Int32
        public var description: String { "\(call) failed (errno \(errno)) while looking for a free port" }
    }

    /// A loopback TCP port nobody listens on right now.
    public static func next() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FreePort.Unavailable(call: "socket", errno: errno) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw FreePort.Unavailable(call: "bind", errno: errno) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
