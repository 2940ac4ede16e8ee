import Foundation
import Logging

/// Writes one JSON object per line: `timestamp`, `service`, `level`, `message`, then the metadata
/// (`tenant_id`, `user_id`, `event_id`, `duration_ms`, `status`, …) as top-level fields.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let service: String
    private let output: LogOutput

    public init(label: String, service: String, level: Logger.Level, output: LogOutput = .standardOutput) {
        self.label = label
        self.service = service
        self.logLevel = level
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let fields: Logger.Metadata
        if let extra = event.metadata, !extra.isEmpty {
            fields = metadata.isEmpty ? extra : metadata.merging(extra) { _, new in new }
        } else {
            fields = metadata
        }
        output.write(Self.render(
            timestamp: Date(), service: service, level: event.level, message: event.message.description, metadata: fields
        ))
    }

    private static let reservedKeys: Set<String> = ["timestamp", "service", "level", "message"]

    /// Built by appending bytes into one buffer: this runs for every request.
    static func render(timestamp: Date, service: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(160 + message.utf8.count + metadata.count * 40)
        line.append(contentsOf: #"{"timestamp":""#.utf8)
        LogTimestamp.appendISO8601(timestamp, to: &line)
        line.append(contentsOf: #"","service":"#.utf8)
        appendJSONString(service, to: &line)
        line.append(contentsOf: #","level":""#.utf8)
        line.append(contentsOf: level.rawValue.utf8)
        line.append(contentsOf: #"","message":"#.utf8)
        appendJSONString(message, to: &line)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where !reservedKeys.contains(key) {
            line.append(UInt8(ascii: ","))
            appendJSONString(key, to: &line)
            line.append(UInt8(ascii: ":"))
            appendJSONValue(value, key: key, to: &line)
        }
        line.append(contentsOf: "}\n".utf8)
        return line
    }

    /// Numbers stay numbers for the fields log tools aggregate on.
    private static func appendJSONValue(_ value: Logger.Metadata.Value, key: String, to line: inout [UInt8]) {
        switch value {
        case .string(let text):
            if key == "duration_ms" || key == "status", isPlainNumber(text) {
                line.append(contentsOf: text.utf8)
            } else {
                appendJSONString(text, to: &line)
            }
        case .stringConvertible(let convertible):
            let text = convertible.description
            if convertible is any BinaryInteger || convertible is any BinaryFloatingPoint {
                line.append(contentsOf: text.utf8)
            } else {
                appendJSONString(text, to: &line)
            }
        case .array(let values):
            line.append(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { line.append(UInt8(ascii: ",")) }
                appendJSONValue(element, key: "", to: &line)
            }
            line.append(UInt8(ascii: "]"))
        case .dictionary(let dictionary):
            line.append(UInt8(ascii: "{"))
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { line.append(UInt8(ascii: ",")) }
                appendJSONString(key, to: &line)
                line.append(UInt8(ascii: ":"))
                appendJSONValue(dictionary[key]!, key: key, to: &line)
            }
            line.append(UInt8(ascii: "}"))
        }
    }

    /// Digits with at most one inner decimal point (`12`, `3.25`): written bare, they are a valid JSON number.
    private static func isPlainNumber(_ text: String) -> Bool {
        var digits = 0
        var points = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: ".") where digits > 0 && points == 0: points += 1
            default: return false
            }
        }
        return digits > 0 && text.utf8.last != UInt8(ascii: ".") && !(text.utf8.count > 1 && text.utf8.first == UInt8(ascii: "0") && text.utf8.dropFirst().first != UInt8(ascii: "."))
    }

    /// `text` as a JSON string literal (RFC 8259; U+2028/U+2029 escaped too), appended to `out` as UTF-8.
    /// Runs of bytes that need no escape (nearly all of them) are copied whole.
    public static func appendJSONString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var start = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == 0xE2 else {
                    index += 1
                    continue
                }
                var escape: String
                var length = 1
                switch byte {
                case UInt8(ascii: "\""): escape = #"\""#
                case UInt8(ascii: "\\"): escape = #"\\"#
                case UInt8(ascii: "\n"): escape = #"\n"#
                case UInt8(ascii: "\r"): escape = #"\r"#
                case UInt8(ascii: "\t"): escape = #"\t"#
                case 0xE2:
                    // E2 80 A8 / E2 80 A9 are U+2028 / U+2029, line breaks to JavaScript; other E2 sequences stay.
                    guard index + 2 < bytes.count, bytes[index + 1] == 0x80, bytes[index + 2] & 0xFE == 0xA8 else {
                        index += 1
                        continue
                    }
                    escape = bytes[index + 2] == 0xA8 ? #"\u2028"# : #"\u2029"#
                    length = 3
                default:
                    let digits = Array("0123456789abcdef".utf8)
                    escape = #"\u00"# + String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                out.append(contentsOf: escape.utf8)
                index += length
                start = index
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// A human-readable alternative for `LOG_FORMAT=text`.
public struct TextLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let service: String
    private let output: LogOutput

    public init(service: String, level: Logger.Level, output: LogOutput = .standardOutput) {
        self.service = service
        self.logLevel = level
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        let rendered = fields.keys.sorted().map { "\($0)=\(fields[$0]!)" }.joined(separator: " ")
        output.write("\(LogTimestamp.iso8601(Date())) \(event.level.rawValue.uppercased()) [\(service)] \(event.message)"
            + (rendered.isEmpty ? "" : " " + rendered) + "\n")
    }
}

/// Where log lines go. Writes are whole lines under a lock so concurrent lines never interleave.
public final class LogOutput: @unchecked Sendable {
    public static let standardOutput = LogOutput(descriptor: STDOUT_FILENO)

    /// Unbuffered, so a line is out before a crash or a SIGKILL.
    static func writeAll(_ line: [UInt8], to descriptor: Int32) {
        line.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, base + offset, bytes.count - offset)
                if written < 0, errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }

    private let lock = NSLock()
    private let descriptor: Int32?
    private let sink: ((String) -> Void)?

    /// Lines go to `sink` (tests keep them).
    public init(_ sink: @escaping (String) -> Void) {
        self.sink = sink
        descriptor = nil
    }

    private init(descriptor: Int32) {
        self.descriptor = descriptor
        sink = nil
    }

    func write(_ line: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        if let descriptor { Self.writeAll(line, to: descriptor) } else { sink?(String(decoding: line, as: UTF8.self)) }
    }

    func write(_ line: String) { write(Array(line.utf8)) }
}

enum LogTimestamp {
    static func iso8601(_ date: Date) -> String {
        var out: [UInt8] = []
        appendISO8601(date, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `2026-12-05T09:30:00.123Z`, by hand rather than through a formatter: this runs for every log line.
    static func appendISO8601(_ date: Date, to out: inout [UInt8]) {
        var seconds = time_t(date.timeIntervalSince1970)
        let millis = Int((date.timeIntervalSince1970 - Double(seconds)) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int32, _ count: Int, then separator: UInt8?) {
            var divisor: Int32 = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = max(0, value)
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8((rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
            if let separator { out.append(separator) }
        }
        digits(parts.tm_year + 1900, 4, then: UInt8(ascii: "-"))
        digits(parts.tm_mon + 1, 2, then: UInt8(ascii: "-"))
        digits(parts.tm_mday, 2, then: UInt8(ascii: "T"))
        digits(parts.tm_hour, 2, then: UInt8(ascii: ":"))
        digits(parts.tm_min, 2, then: UInt8(ascii: ":"))
        digits(parts.tm_sec, 2, then: UInt8(ascii: "."))
        digits(Int32(millis), 3, then: UInt8(ascii: "Z"))
    }
}

/// Installs the process-wide log handler. Call once, first thing in `main`.
public enum Logging {
    public static func bootstrap(service: ServiceName, level: Logger.Level, format: Settings.LogFormat, output: LogOutput = .standardOutput) {
        LoggingSystem.bootstrap { label in
            switch format {
            case .json: return JSONLogHandler(label: label, service: service.rawValue, level: level, output: output)
            case .text: return TextLogHandler(service: service.rawValue, level: level, output: output)
            }
        }
    }

    /// Prints one JSON line for a failure before logging exists (e.g. a configuration error) and exits.
    public static func fail(service: ServiceName, _ message: String) -> Never {
        let line = JSONLogHandler.render(timestamp: Date(), service: service.rawValue, level: .critical, message: message, metadata: [:])
        LogOutput.writeAll(line, to: STDERR_FILENO)
        exit(1)
    }
}

/// A flat JSON object of string (and literal) members, escaped as RFC 8259 requires; nil members are left out, as
/// `JSONEncoder` leaves them. For what is written once per event or answer, where `JSONEncoder` cost too much.
package struct JSONObjectWriter {
    package init() {}

    private var output: [UInt8] = [UInt8(ascii: "{")]
    private var empty = true

    package mutating func add(_ key: String, _ value: String?) {
        guard let value else { return }
        member(key)
        JSONLogHandler.appendJSONString(value, to: &output)
    }

    /// `true` or `false`; nothing when nil, as for strings.
    package mutating func add(_ key: String, _ value: Bool?) {
        guard let value else { return }
        add(key, literal: value ? "true" : "false")
    }

    package mutating func add(_ key: String, literal: String) {
        member(key)
        output.append(contentsOf: literal.utf8)
    }

    package var bytes: [UInt8] { output + [UInt8(ascii: "}")] }

    package var finished: String { String(decoding: bytes, as: UTF8.self) }

    private mutating func member(_ key: String) {
        if !empty { output.append(UInt8(ascii: ",")) }
        empty = false
        JSONLogHandler.appendJSONString(key, to: &output)
        output.append(UInt8(ascii: ":"))
    }
}
