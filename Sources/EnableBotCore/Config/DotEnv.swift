import Foundation

/// Reads a dotenv file: `KEY=value` lines, `#` comments, optional `export `, single or double quotes.
public enum DotEnv {
    public static func parse(_ text: String) throws(ConfigurationError) -> [String: String] {
        var values: [String: String] = [:]
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError("ENV_FILE", "line \(number + 1) is not KEY=value")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ConfigurationError("ENV_FILE", "line \(number + 1) has an invalid name")
            }
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if let quote = value.first, quote == "\"" || quote == "'" {
                guard value.count >= 2, value.last == quote else {
                    throw ConfigurationError("ENV_FILE", "line \(number + 1) has an unclosed quote")
                }
                value = String(value.dropFirst().dropLast())
                if quote == "\"" { value = value.replacingOccurrences(of: "\\n", with: "\n") }
            } else if let hash = value.range(of: " #") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            values[key] = value
        }
        return values
    }

    /// The process environment over the file `ENV_FILE` names, if any: the real environment wins.
    public static func mergedEnvironment(_ environment: [String: String]) throws(ConfigurationError) -> [String: String] {
        guard let path = environment["ENV_FILE"], !path.isEmpty else { return environment }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("ENV_FILE", "names \(path), which cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("ENV_FILE", "names \(path), which is not UTF-8 text")
        }
        return try parse(text).merging(environment) { _, real in real }
    }
}
