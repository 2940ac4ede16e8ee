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

    /// Built by appending into one buffer: this runs for every request.
    static func render(timestamp: Date, service: String, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var line = "{\"timestamp\":\""
        line.reserveCapacity(160 + message.utf8.count + metadata.count * 32)
        line += LogTimestamp.iso8601(timestamp)
        line += "\",\"service\":"
        appendJSONString(service, to: &line)
        line += ",\"level\":\""
        line += level.rawValue
        line += "\",\"message\":"
        appendJSONString(message, to: &line)
        for key in metadata.keys.sorted() where !reservedKeys.contains(key) {
            line += ","
            appendJSONString(key, to: &line)
            line += ":"
            appendJSONValue(metadata[key]!, key: key, to: &line)
        }
        line += "}\n"
        return line
    }

    /// Numbers stay numbers for the fields log tools aggregate on.
    private static func appendJSONValue(_ value: Logger.Metadata.Value, key: String, to line: inout String) {
        switch value {
        case .string(let text):
            if key == "duration_ms" || key == "status", Double(text) != nil { line += text } else { appendJSONString(text, to: &line) }
        case .stringConvertible(let convertible):
            let text = convertible.description
            if convertible is any BinaryInteger || convertible is any BinaryFloatingPoint { line += text } else { appendJSONString(text, to: &line) }
        case .array(let values):
            line += "["
            for (index, element) in values.enumerated() {
                if index > 0 { line += "," }
                appendJSONValue(element, key: "", to: &line)
            }
            line += "]"
        case .dictionary(let dictionary):
            line += "{"
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { line += "," }
                appendJSONString(key, to: &line)
                line += ":"
                appendJSONValue(dictionary[key]!, key: key, to: &line)
            }
            line += "}"
        }
    }

    /// `text` as a JSON string literal (RFC 8259; U+2028/U+2029 escaped too), appended to `out`.
    public static func appendJSONString(_ text: String, to out: inout String) {
        // Most values (ids, outcomes, numbers) need no escaping: one scan, one append. 0xE2 leads U+2028/U+2029.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 == 0xE2 }) {
            out += "\""
            out += text
            out += "\""
            return
        }
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
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
    public static let standardOutput = LogOutput { line in writeAll(line, to: STDOUT_FILENO) }

    /// Unbuffered, so a line is out before a crash or a SIGKILL.
    static func writeAll(_ line: String, to descriptor: Int32) {
        var line = line
        line.withUTF8 { bytes in
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
    private let sink: (String) -> Void

    public init(_ sink: @escaping (String) -> Void) { self.sink = sink }

    func write(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        sink(line)
    }
}

enum LogTimestamp {
    static func iso8601(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        let millis = Int((date.timeIntervalSince1970 - Double(seconds)) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // By hand rather than String(format:): this runs for every log line.
        var out = [UInt8]()
        out.reserveCapacity(24)
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
        return String(decoding: out, as: UTF8.self)
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
