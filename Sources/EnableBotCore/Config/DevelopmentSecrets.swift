import Foundation

/// Development mode's generated secrets, created once in the data folder and shared by both services
/// (created with O_EXCL, so two services starting together agree on one value).
struct DevelopmentSecrets {
    let directory: String

    func encryptionKeys() throws(ConfigurationError) -> [EncryptionKey] {
        let text = try readOrCreate("encryption_keys", setting: "ENCRYPTION_KEYS") {
            EncryptionKey.generate(id: "dev1").encoded
        }
        do {
            return try EncryptionKey.parseList(text)
        } catch {
            throw ConfigurationError("ENCRYPTION_KEYS", "is unset and \(directory)/encryption_keys is malformed; delete it or set ENCRYPTION_KEYS")
        }
    }

    func signingSecret() throws(ConfigurationError) -> String {
        try readOrCreate("slack_signing_secret", setting: "SLACK_SIGNING_SECRET") {
            SecureRandom.bytes(16).hexString
        }
    }

    func adminPassword() throws(ConfigurationError) -> String {
        try readOrCreate("admin_password", setting: "ADMIN_PASSWORD") { SecureRandom.token(byteCount: 12) }
    }

    private func readOrCreate(_ name: String, setting: String, make: () -> String) throws(ConfigurationError) -> String {
        let path = directory + "/" + name
        for _ in 0..<3 {
            if let data = FileManager.default.contents(atPath: path),
               let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
               !text.isEmpty {
                return text
            }
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if fd >= 0 {
                let value = make()
                let bytes = Array((value + "\n").utf8)
                let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                if written == bytes.count { return value }
                unlink(path)
            } else if errno != EEXIST {
                break
            }
            usleep(50_000)  // another process is writing it: read again
        }
        throw ConfigurationError(setting, "is unset and \(path) cannot be created; set \(setting) or make \(directory)/ writable")
    }
}
