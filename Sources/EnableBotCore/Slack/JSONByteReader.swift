import Foundation

/// A strict pull reader over one JSON document (RFC 8259) held as UTF-8 bytes.
///
/// Why not `JSONDecoder`: it builds a whole value tree and goes through `Codable`'s generic containers, which
/// cost about a quarter of the server's CPU on the events acknowledgement path. This reader decodes only the
/// values the caller asks for and skips the rest, still checking that every skipped value is well-formed JSON.
/// The caller guarantees the bytes are valid UTF-8 (they come from a `String`, or passed `isValidUTF8`), so string
/// contents are only checked for JSON's own rules (no raw control characters, valid escapes).
package struct JSONByteReader {
    package enum Kind { case object, array, string, number, bool, null }

    package struct Malformed: Error, CustomStringConvertible {
        let reason: String
        let offset: Int
        package var description: String { "malformed JSON at byte \(offset): \(reason)" }
    }

    /// Deeper nesting is refused rather than recursed into, so hostile input cannot exhaust the stack.
    static let maxDepth = 128

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var depth = 0

    package init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Reads the whole document with `body` (which must consume exactly one value) and checks nothing follows it.
    package static func read<T>(_ text: String, _ body: (inout JSONByteReader) throws -> T) throws -> T {
        var text = text
        return try text.withUTF8 { buffer in
            var reader = JSONByteReader(buffer)
            let value = try body(&reader)
            reader.skipWhitespace()
            guard reader.position == buffer.count else { throw reader.malformed("unexpected data after the document") }
            return value
        }
    }

    /// The same over bytes the caller has checked are valid UTF-8 (`isValidUTF8`), without first copying them
    /// into a `String`.
    package static func read<T>(validUTF8 bytes: [UInt8], _ body: (inout JSONByteReader) throws -> T) throws -> T {
        try bytes.withUnsafeBufferPointer { buffer in
            var reader = JSONByteReader(buffer)
            let value = try body(&reader)
            reader.skipWhitespace()
            guard reader.position == buffer.count else { throw reader.malformed("unexpected data after the document") }
            return value
        }
    }

    /// Whether `bytes` are valid UTF-8; plain ASCII, what Slack nearly always sends, is settled by one quick scan.
    package static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        let isASCII = bytes.withUnsafeBytes { raw -> Bool in
            // Eight bytes at a time: a byte of 0x80 or more is not ASCII.
            var highBits: UInt64 = 0
            let words = raw.count / 8
            for index in 0..<words { highBits |= raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) }
            for index in words * 8..<raw.count { highBits |= UInt64(raw[index]) }
            return highBits & 0x8080_8080_8080_8080 == 0
        }
        return isASCII || String(validating: bytes, as: UTF8.self) != nil
    }

    package mutating func kind() throws -> Kind {
        skipWhitespace()
        guard position < bytes.count else { throw malformed("unexpected end of input") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw malformed("unexpected character")
        }
    }

    /// Calls `member` with each key of an object; `member` must read or skip that key's value.
    package mutating func readObject(_ member: (inout JSONByteReader, JSONKey) throws -> Void) throws {
        try enter(UInt8(ascii: "{"))
        if consume(UInt8(ascii: "}")) { depth -= 1; return }
        repeat {
            guard try kind() == .string else { throw malformed("expected a string key") }
            let key = try readKey()
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else { throw malformed("expected ':'") }
            try member(&self, key)
            skipWhitespace()
        } while consume(UInt8(ascii: ","))
        guard consume(UInt8(ascii: "}")) else { throw malformed("expected ',' or '}'") }
        depth -= 1
    }

    /// Calls `element` for each element of an array; `element` must read or skip it.
    package mutating func readArray(_ element: (inout JSONByteReader) throws -> Void) throws {
        try enter(UInt8(ascii: "["))
        if consume(UInt8(ascii: "]")) { depth -= 1; return }
        repeat {
            try element(&self)
            skipWhitespace()
        } while consume(UInt8(ascii: ","))
        guard consume(UInt8(ascii: "]")) else { throw malformed("expected ',' or ']'") }
        depth -= 1
    }

    /// A member's key: the bytes between its quotes when it has no escapes (nearly always), so matching it against
    /// the names a caller knows needs no `String`; decoded otherwise.
    private mutating func readKey() throws -> JSONKey {
        let quote = position
        guard consume(UInt8(ascii: "\"")) else { throw malformed("expected a string") }
        if let plain = try scanPlainString() { return JSONKey(raw: plain) }
        position = quote
        return JSONKey(decoded: try readString())
    }

    /// After an opening quote: the string's bytes up to its closing quote (consumed) when no escape comes first;
    /// nil, stopped at the backslash, when one does.
    private mutating func scanPlainString() throws -> UnsafeBufferPointer<UInt8>? {
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return UnsafeBufferPointer(rebasing: bytes[start..<position - 1])
            }
            if byte == UInt8(ascii: "\\") { return nil }
            if byte < 0x20 { throw malformed("control character in a string") }
            position += 1
        }
        return nil
    }

    package mutating func readString() throws -> String {
        skipWhitespace()
        guard consume(UInt8(ascii: "\"")) else { throw malformed("expected a string") }
        let start = position
        // Fast path: no escapes, the bytes are the string.
        if let plain = try scanPlainString() { return String(decoding: plain, as: UTF8.self) }
        var decoded = Array(bytes[start..<position])
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""): return String(decoding: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"): try readEscape(into: &decoded)
            case ..<0x20: throw malformed("control character in a string")
            default: decoded.append(byte)
            }
        }
        throw malformed("unterminated string")
    }

    package mutating func readBool() throws -> Bool {
        skipWhitespace()
        if consume(literal: "true") { return true }
        if consume(literal: "false") { return false }
        throw malformed("expected true or false")
    }

    /// An integral number that fits in Int64, or nil for any other (valid) number.
    package mutating func readInteger() throws -> Int64? {
        skipWhitespace()
        let start = position
        let isIntegral = try scanNumber()
        guard isIntegral else { return nil }
        return Int64(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self))
    }

    /// Consumes `null` if it is next.
    package mutating func readNull() -> Bool {
        skipWhitespace()
        return consume(literal: "null")
    }

    /// Consumes the next value, whatever it is, checking that it is well-formed.
    package mutating func skipValue() throws {
        switch try kind() {
        case .object: try readObject { reader, _ in try reader.skipValue() }
        case .array: try readArray { reader in try reader.skipValue() }
        case .string: try skipString()
        case .number: _ = try scanNumber()
        case .bool: _ = try readBool()
        case .null: guard readNull() else { throw malformed("expected null") }
        }
    }

    /// The string, or nil for `null`; any other value is malformed.
    package mutating func readNullableString() throws -> String? {
        readNull() ? nil : try readString()
    }

    /// The string if the next value is one; otherwise the value is skipped and the answer is nil.
    package mutating func readStringIfPresent() throws -> String? {
        if try kind() == .string { return try readString() }
        try skipValue()
        return nil
    }

    package mutating func readBoolIfPresent() throws -> Bool? {
        if try kind() == .bool { return try readBool() }
        try skipValue()
        return nil
    }

    package mutating func readIntegerIfPresent() throws -> Int64? {
        if try kind() == .number { return try readInteger() }
        try skipValue()
        return nil
    }

    package func malformed(_ reason: String) -> Malformed {
        Malformed(reason: reason, offset: position)
    }

    // MARK: - Scanning

    private mutating func enter(_ opener: UInt8) throws {
        skipWhitespace()
        guard consume(opener) else { throw malformed("expected '\(Character(Unicode.Scalar(opener)))'") }
        depth += 1
        guard depth <= Self.maxDepth else { throw malformed("nested deeper than \(Self.maxDepth)") }
        skipWhitespace()
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): position += 1
            default: return
            }
        }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    private mutating func consume(literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - position >= count else { return false }
        for offset in 0..<count where bytes[position + offset] != literal.utf8Start[offset] { return false }
        position += count
        return true
    }

    private mutating func skipString() throws {
        guard consume(UInt8(ascii: "\"")) else { throw malformed("expected a string") }
        var scratch: [UInt8] = []
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""): return
            case UInt8(ascii: "\\"):
                scratch.removeAll(keepingCapacity: true)
                try readEscape(into: &scratch)
            case ..<0x20: throw malformed("control character in a string")
            default: continue
            }
        }
        throw malformed("unterminated string")
    }

    /// After a backslash: appends the escaped character's UTF-8. A surrogate must come as a high-low pair, as
    /// Foundation's JSON reader also requires.
    private mutating func readEscape(into output: inout [UInt8]) throws {
        guard position < bytes.count else { throw malformed("unterminated escape") }
        let byte = bytes[position]
        position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(byte)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try readHex4()
            if (0xDC00...0xDFFF).contains(scalar) { throw malformed("unpaired low surrogate") }
            if (0xD800...0xDBFF).contains(scalar) {
                guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
                else { throw malformed("unpaired high surrogate") }
                position += 2
                let low = try readHex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw malformed("unpaired high surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let character = Unicode.Scalar(scalar) else { throw malformed("invalid \\u escape") }
            output.append(contentsOf: String(character).utf8)
        default: throw malformed("invalid escape")
        }
    }

    private mutating func readHex4() throws -> UInt32 {
        guard bytes.count - position >= 4 else { throw malformed("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw malformed("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// Consumes a number per RFC 8259's grammar; true when it has no fraction or exponent.
    private mutating func scanNumber() throws -> Bool {
        let start = position
        _ = consume(UInt8(ascii: "-"))
        if consume(UInt8(ascii: "0")) {
            // no leading zeros
        } else {
            guard scanDigits() > 0 else { throw malformed("invalid number") }
        }
        var isIntegral = true
        if consume(UInt8(ascii: ".")) {
            guard scanDigits() > 0 else { throw malformed("invalid number") }
            isIntegral = false
        }
        if consume(UInt8(ascii: "e")) || consume(UInt8(ascii: "E")) {
            if !consume(UInt8(ascii: "+")) { _ = consume(UInt8(ascii: "-")) }
            guard scanDigits() > 0 else { throw malformed("invalid number") }
            isIntegral = false
        }
        // Like Foundation's reader, refuse numbers no Double can hold (`1e999`): RFC 8259 lets readers set limits.
        if !isIntegral || position - start > 300 {
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            guard Double(text)?.isFinite == true else { throw malformed("number out of range") }
        }
        return isIntegral
    }

    private mutating func scanDigits() -> Int {
        let start = position
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
        return position - start
    }
}

/// An object member's key as `JSONByteReader.readObject` hands it over: compare it with the names you know
/// (`switch key { case "type": … }`, `key == "content"`); valid only inside that call.
package struct JSONKey {
    private let raw: UnsafeBufferPointer<UInt8>?
    private let decoded: String?

    fileprivate init(raw: UnsafeBufferPointer<UInt8>) {
        self.raw = raw
        decoded = nil
    }

    fileprivate init(decoded: String) {
        raw = nil
        self.decoded = decoded
    }

    package var string: String { decoded ?? String(decoding: raw!, as: UTF8.self) }

    package static func == (key: JSONKey, name: StaticString) -> Bool {
        guard let raw = key.raw else { return key.decoded == name.description }
        guard raw.count == name.utf8CodeUnitCount else { return false }
        guard let base = raw.baseAddress else { return name.utf8CodeUnitCount == 0 }
        return memcmp(base, name.utf8Start, raw.count) == 0
    }

    package static func ~= (name: StaticString, key: JSONKey) -> Bool { key == name }
}
