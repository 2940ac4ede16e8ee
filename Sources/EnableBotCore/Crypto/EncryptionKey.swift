import Foundation

/// One AES-256 key with the id stored in every ciphertext it makes, so old values can still be
/// opened after rotation.
///
/// `description` shows only the id, so a key that ends up in a log or an interpolated string
/// does not reveal its bytes.
public struct EncryptionKey: Sendable, CustomStringConvertible {
    /// The key's byte length: AES-256.
    public static let byteCount = 32
    /// The longest id accepted (it is stored, length-prefixed by one byte, in every ciphertext).
    public static let maxIDLength = 32

    /// 1–32 characters of `A-Z a-z 0-9 _ -`.
    public let id: String
    /// Exactly 32 bytes.
    public let bytes: [UInt8]

    /// Makes a key, checking the id's characters and the key's length.
    public init(id: String, bytes: [UInt8]) throws(KeyListError) {
        guard Self.isValidID(id) else { throw KeyListError(.invalidKeyID, position: nil, keyID: nil) }
        guard bytes.count == Self.byteCount else {
            throw KeyListError(.wrongKeyLength, position: nil, keyID: id, byteCount: bytes.count)
        }
        self.id = id
        self.bytes = bytes
    }

    /// A fresh random key with the given id (for `enablebot keys generate` and development setups).
    /// The id must be valid (see `id`); an invalid id is a programming error.
    public static func generate(id: String) -> EncryptionKey {
        precondition(isValidID(id), "EncryptionKey.generate: invalid key id")
        return EncryptionKey(uncheckedID: id, bytes: SecureRandom.bytes(byteCount))
    }

    /// `id:base64`, the form one item of `ENCRYPTION_KEYS` takes.
    public var encoded: String {
        "\(id):\(Data(bytes).base64EncodedString())"
    }

    public var description: String {
        "EncryptionKey(id: \(id))"
    }

    /// Parses `ENCRYPTION_KEYS`: a comma-separated list of `KEYID:BASE64_32_BYTES`. The first key
    /// encrypts, all decrypt. Whitespace around items is ignored. Errors name the item's position
    /// (and its id once that is known) but never repeat the key material.
    public static func parseList(_ value: String) throws(KeyListError) -> [EncryptionKey] {
        let items = value.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        if items.count == 1, items[0].isEmpty { throw KeyListError(.emptyList, position: nil, keyID: nil) }

        var keys: [EncryptionKey] = []
        var seen: Set<String> = []
        for (index, item) in items.enumerated() {
            let position = index + 1
            guard !item.isEmpty else { throw KeyListError(.emptyItem, position: position, keyID: nil) }
            guard let colon = item.firstIndex(of: ":") else {
                throw KeyListError(.missingSeparator, position: position, keyID: nil)
            }
            // Spaces around the ':' are tolerated like those around items.
            let id = item[..<colon].trimmingCharacters(in: .whitespaces)
            // The id is not secret, but an invalid one may be a pasted key: don't echo it.
            guard isValidID(id) else { throw KeyListError(.invalidKeyID, position: position, keyID: nil) }
            guard seen.insert(id).inserted else {
                throw KeyListError(.duplicateKeyID, position: position, keyID: id)
            }
            let encodedKey = item[item.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard let bytes = decodeBase64(encodedKey) else {
                throw KeyListError(.invalidBase64, position: position, keyID: id)
            }
            guard bytes.count == byteCount else {
                throw KeyListError(.wrongKeyLength, position: position, keyID: id, byteCount: bytes.count)
            }
            keys.append(EncryptionKey(uncheckedID: id, bytes: bytes))
        }
        return keys
    }

    /// Whether `id` is 1–32 characters of `A-Z a-z 0-9 _ -`.
    public static func isValidID(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard (1...maxIDLength).contains(utf8.count) else { return false }
        return utf8.allSatisfy { c in
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }

    private init(uncheckedID id: String, bytes: [UInt8]) {
        self.id = id
        self.bytes = bytes
    }

    /// Standard base64; the URL-safe alphabet and missing padding are tolerated too, since
    /// operators paste keys from different tools.
    private static func decodeBase64(_ text: String) -> [UInt8]? {
        var normalized = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        if !normalized.contains("="), normalized.utf8.count % 4 != 0 {
            normalized += String(repeating: "=", count: 4 - normalized.utf8.count % 4)
        }
        guard !normalized.isEmpty, let data = Data(base64Encoded: normalized) else { return nil }
        return [UInt8](data)
    }
}

/// Why `ENCRYPTION_KEYS` (or one key) was refused. The description is one line for the operator;
/// it names the item's position and, when valid, its id, and never contains key material.
public struct KeyListError: Error, Equatable, CustomStringConvertible, Sendable {
    /// What was wrong, for code that needs to tell the cases apart.
    public struct Reason: Hashable, Sendable {
        private let name: String
        fileprivate init(_ name: String) { self.name = name }

        /// The whole value is empty.
        public static let emptyList = Reason("emptyList")
        /// An item between commas is empty (for example a trailing comma).
        public static let emptyItem = Reason("emptyItem")
        /// An item has no `:` between id and key.
        public static let missingSeparator = Reason("missingSeparator")
        /// The id is empty, too long, or has characters outside `A-Z a-z 0-9 _ -`.
        public static let invalidKeyID = Reason("invalidKeyID")
        /// Two items share an id.
        public static let duplicateKeyID = Reason("duplicateKeyID")
        /// The key part is not base64.
        public static let invalidBase64 = Reason("invalidBase64")
        /// The key does not decode to exactly 32 bytes.
        public static let wrongKeyLength = Reason("wrongKeyLength")
    }

    public let reason: Reason
    /// The 1-based position of the offending item in the list, when parsing a list.
    public let position: Int?
    /// The offending item's id, once it is known to be a valid id.
    public let keyID: String?
    private let byteCount: Int?

    init(_ reason: Reason, position: Int?, keyID: String?, byteCount: Int? = nil) {
        self.reason = reason
        self.position = position
        self.keyID = keyID
        self.byteCount = byteCount
    }

    public var description: String {
        var subject = "ENCRYPTION_KEYS"
        if let position { subject += " item \(position)" }
        if let keyID { subject += " (key id \"\(keyID)\")" }
        let problem = switch reason {
        case .emptyList: "is empty; expected a comma list of KEYID:BASE64_32_BYTES"
        case .emptyItem: "is empty; expected KEYID:BASE64_32_BYTES"
        case .missingSeparator: "has no ':'; expected KEYID:BASE64_32_BYTES"
        case .invalidKeyID: "has an invalid key id; expected 1-32 characters of A-Z a-z 0-9 _ -"
        case .duplicateKeyID: "repeats a key id; each id must be unique"
        case .invalidBase64: "is not valid base64; expected 32 bytes in base64"
        case .wrongKeyLength: "decodes to \(byteCount ?? 0) bytes; expected exactly 32 (AES-256)"
        default: "is invalid"
        }
        return "\(subject) \(problem)"
    }
}
