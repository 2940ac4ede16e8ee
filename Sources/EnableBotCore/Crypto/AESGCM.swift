import COpenSSL

/// A thin wrapper over OpenSSL's EVP AES-GCM: bytes in, bytes out, nothing Slack-specific.
///
/// The product only uses AES-256 with 12-byte nonces (see `TokenCipher`); 16/24-byte keys and
/// other nonce lengths are accepted here so the Wycheproof vectors run through this same code.
enum AESGCM {
    /// The only tag length accepted. OpenSSL would verify a truncated tag if given one,
    /// which weakens authentication, so anything else is refused before OpenSSL sees it.
    static let tagByteCount = 16

    /// Encrypts `plaintext` and authenticates it together with `aad`.
    static func seal(
        key: [UInt8], nonce: [UInt8], plaintext: [UInt8], aad: [UInt8]
    ) throws(CipherError) -> (ciphertext: [UInt8], tag: [UInt8]) {
        // The EVP API counts bytes in Int32.
        guard plaintext.count <= Int(Int32.max) else { throw .openSSLFailure }
        let context = try makeContext(key: key, nonce: nonce, encrypting: true)
        defer { EVP_CIPHER_CTX_free(context) }

        try feedAAD(aad, to: context, encrypting: true)
        // Zero-length updates are skipped rather than given a NULL pointer: for GCM they are no-ops.
        // GCM is a stream mode: the ciphertext is exactly as long as the plaintext.
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count)
        if !plaintext.isEmpty {
            var written: Int32 = 0
            let ok = plaintext.withNonNullBytes { input in
                ciphertext.withUnsafeMutableBufferPointer { output in
                    EVP_EncryptUpdate(context, output.baseAddress, &written, input, Int32(plaintext.count))
                }
            }
            guard ok == 1, Int(written) == plaintext.count else { throw failure() }
        }
        var finalBytes = [UInt8](repeating: 0, count: tagByteCount)
        var finalWritten: Int32 = 0
        let finished = finalBytes.withUnsafeMutableBufferPointer { output in
            EVP_EncryptFinal_ex(context, output.baseAddress, &finalWritten)
        }
        guard finished == 1, finalWritten == 0 else { throw failure() }

        var tag = [UInt8](repeating: 0, count: tagByteCount)
        let gotTag = tag.withUnsafeMutableBytes { output in
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(tagByteCount), output.baseAddress)
        }
        guard gotTag == 1 else { throw failure() }
        return (ciphertext, tag)
    }

    /// Verifies `tag` over `aad` and `ciphertext` and returns the plaintext.
    /// Throws `.authenticationFailed` for any mismatch; no plaintext is returned unless the tag verifies.
    static func open(
        key: [UInt8], nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8], aad: [UInt8]
    ) throws(CipherError) -> [UInt8] {
        guard tag.count == tagByteCount else { throw .invalidTag }
        guard ciphertext.count <= Int(Int32.max) else { throw .malformedCiphertext }
        let context = try makeContext(key: key, nonce: nonce, encrypting: false)
        defer { EVP_CIPHER_CTX_free(context) }

        try feedAAD(aad, to: context, encrypting: false)
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count)
        if !ciphertext.isEmpty {
            var written: Int32 = 0
            let ok = ciphertext.withNonNullBytes { input in
                plaintext.withUnsafeMutableBufferPointer { output in
                    EVP_DecryptUpdate(context, output.baseAddress, &written, input, Int32(ciphertext.count))
                }
            }
            guard ok == 1, Int(written) == ciphertext.count else { throw failure() }
        }
        // EVP_CTRL_GCM_SET_TAG takes a non-const pointer, hence the mutable copy.
        var expectedTag = tag
        let setTag = expectedTag.withUnsafeMutableBytes { buffer in
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tagByteCount), buffer.baseAddress)
        }
        guard setTag == 1 else { throw failure() }

        var finalBytes = [UInt8](repeating: 0, count: tagByteCount)
        var finalWritten: Int32 = 0
        let verified = finalBytes.withUnsafeMutableBufferPointer { output in
            EVP_DecryptFinal_ex(context, output.baseAddress, &finalWritten)
        }
        guard verified == 1 else {
            // Don't leave unauthenticated plaintext lying around in memory longer than needed.
            for index in plaintext.indices { plaintext[index] = 0 }
            ERR_clear_error()
            throw .authenticationFailed
        }
        return plaintext
    }

    // MARK: - Helpers

    private static func cipher(forKeyLength length: Int) -> OpaquePointer? {
        switch length {
        case 16: EVP_aes_128_gcm()
        case 24: EVP_aes_192_gcm()
        case 32: EVP_aes_256_gcm()
        default: nil
        }
    }

    /// Creates a context set up with cipher, nonce length, key and nonce. The caller frees it.
    private static func makeContext(
        key: [UInt8], nonce: [UInt8], encrypting: Bool
    ) throws(CipherError) -> OpaquePointer {
        guard let cipher = cipher(forKeyLength: key.count) else { throw .invalidKey }
        // A zero-length IV makes GCM leak its authentication key (CVE-2017-7822); the EVP API takes an Int32.
        guard !nonce.isEmpty, nonce.count <= Int(Int32.max) else { throw .invalidNonce }
        guard let context = EVP_CIPHER_CTX_new() else { throw failure() }

        let initialize = encrypting ? EVP_EncryptInit_ex : EVP_DecryptInit_ex
        // Two-step init: choose the cipher, set the IV length, then give key and IV.
        guard initialize(context, cipher, nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonce.count), nil) == 1
        else {
            EVP_CIPHER_CTX_free(context)
            // OpenSSL 3 refuses IVs longer than 128 bytes here.
            throw failure(.invalidNonce)
        }
        let keyed = key.withNonNullBytes { keyPointer in
            nonce.withNonNullBytes { noncePointer in
                initialize(context, nil, nil, keyPointer, noncePointer)
            }
        }
        guard keyed == 1 else {
            EVP_CIPHER_CTX_free(context)
            throw failure()
        }
        return context
    }

    private static func feedAAD(_ aad: [UInt8], to context: OpaquePointer, encrypting: Bool) throws(CipherError) {
        guard !aad.isEmpty else { return }
        guard aad.count <= Int(Int32.max) else { throw .openSSLFailure }
        var written: Int32 = 0
        // A NULL output buffer tells OpenSSL this update is associated data.
        let ok = aad.withNonNullBytes { input in
            encrypting
                ? EVP_EncryptUpdate(context, nil, &written, input, Int32(aad.count))
                : EVP_DecryptUpdate(context, nil, &written, input, Int32(aad.count))
        }
        guard ok == 1 else { throw failure() }
    }

    /// Clears OpenSSL's per-thread error queue (so failures don't pile up in it) and returns `error`.
    private static func failure(_ error: CipherError = .openSSLFailure) -> CipherError {
        ERR_clear_error()
        return error
    }
}
