import Foundation
import NIOConcurrencyHelpers

/// Sends `requests` (complete HTTP/1.1 requests) over `connections` keep-alive connections at `rate` per second,
/// request i due at start + i / rate, on connection i % connections. Latency runs from the due time to the end of
/// the response, so time spent queued behind a slow response counts (no coordinated omission).
struct OpenLoopLoad {
    let port: UInt16
    let requests: [[UInt8]]
    let rate: Double
    let connections: Int

    /// One request sent: its index in `requests`, when it was due (epoch microseconds, CLOCK_REALTIME), the
    /// response status (0 when the request failed) and the latency from the due time (-1 when it failed).
    struct Record {
        var index: Int
        var dueEpochMicros: Int64
        var status: Int
        var latencyMicros: Int
    }

    struct Outcome: CustomStringConvertible {
        var records: [Record] = []
        var latenciesMicros: [Int] = []
        var non2xx = 0
        var errors = 0
        var seconds = 0.0

        var description: String {
            let sorted = latenciesMicros.sorted()
            func percentile(_ p: Double) -> Int { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
            let mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / sorted.count
            return "RESULT requests=\(sorted.count) duration_us=\(Int(seconds * 1e6)) errors=\(errors) non2xx=\(non2xx) "
                + "rps=\(String(format: "%.1f", Double(sorted.count) / max(seconds, 0.001))) p50_us=\(percentile(0.5)) "
                + "p90_us=\(percentile(0.9)) p99_us=\(percentile(0.99)) max_us=\(sorted.last ?? 0) mean_us=\(mean)"
        }
    }

    func run() -> Outcome {
        let outcome = NIOLockedValueBox(Outcome())
        let start = Self.now() + 50_000_000  // 50 ms for every connection to open first
        // The monotonic clock drives the schedule; due times are recorded on the wall clock for matching against
        // other processes' time.time(): epoch = monotonic + offset, both clocks read back to back.
        let epochOffset = Int64(Self.now(clock: CLOCK_REALTIME)) - Int64(Self.now())
        let group = DispatchGroup()
        for connection in 0..<connections {
            group.enter()
            let thread = Thread {
                let local = self.drive(connection: connection, start: start, epochOffset: epochOffset)
                outcome.withLockedValue {
                    $0.records += local.records
                    $0.latenciesMicros += local.latenciesMicros
                    $0.non2xx += local.non2xx
                    $0.errors += local.errors
                }
                group.leave()
            }
            thread.start()
        }
        group.wait()
        return outcome.withLockedValue {
            var result = $0
            result.seconds = Double(Self.now() - start) / 1e9
            return result
        }
    }

    private func drive(connection: Int, start: UInt64, epochOffset: Int64) -> Outcome {
        var outcome = Outcome()
        var socket = Self.connect(port: port)
        var buffer = [UInt8](repeating: 0, count: 65536)
        for index in stride(from: connection, to: requests.count, by: connections) {
            let due = start + UInt64(Double(index) / rate * 1e9)
            Self.sleep(until: due)
            let dueEpochMicros = (Int64(due) + epochOffset) / 1000
            if socket < 0 { socket = Self.connect(port: port) }
            guard socket >= 0, Self.send(requests[index], on: socket), let status = Self.readResponse(on: socket, buffer: &buffer) else {
                outcome.errors += 1
                outcome.records.append(Record(index: index, dueEpochMicros: dueEpochMicros, status: 0, latencyMicros: -1))
                if socket >= 0 { close(socket) }
                socket = -1
                continue
            }
            let latency = Int((Self.now() - due) / 1000)
            outcome.latenciesMicros.append(latency)
            outcome.records.append(Record(index: index, dueEpochMicros: dueEpochMicros, status: status, latencyMicros: latency))
            if !(200..<300).contains(status) { outcome.non2xx += 1 }
        }
        if socket >= 0 { close(socket) }
        return outcome
    }

    static func now(clock: clockid_t = CLOCK_MONOTONIC) -> UInt64 {
        var time = timespec()
        clock_gettime(clock, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    static func sleep(until deadline: UInt64) {
        var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &time, nil) == EINTR {}
    }

    static func connect(port: UInt16) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 { close(fd); return -1 }
        return fd
    }

    static func send(_ bytes: [UInt8], on socket: Int32) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.send(socket, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if written <= 0 { return false }
                offset += written
            }
            return true
        }
    }

    /// Reads one response (headers, then Content-Length bytes of body); returns its status code.
    static func readResponse(on socket: Int32, buffer: inout [UInt8]) -> Int? {
        var filled = 0
        var headerEnd: Int?
        while headerEnd == nil {
            guard filled < buffer.count else { return nil }
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress! + filled, $0.count - filled, 0) }
            if count <= 0 { return nil }
            filled += count
            if filled >= 4 {
                for index in 3..<filled where buffer[index - 3] == 13 && buffer[index - 2] == 10 && buffer[index - 1] == 13 && buffer[index] == 10 {
                    headerEnd = index + 1
                    break
                }
            }
        }
        let head = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
        let statusLine = head.prefix { $0 != "\r" }.split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        var length = 0
        for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
            length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        var remaining = length - (filled - headerEnd!)
        while remaining > 0 {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress!, min($0.count, remaining), 0) }
            if count <= 0 { return nil }
            remaining -= count
        }
        return status
    }
}
