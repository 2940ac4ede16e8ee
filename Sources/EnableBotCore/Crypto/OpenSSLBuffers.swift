/// Pointer helpers for handing Swift byte arrays to OpenSSL.
///
/// An empty Swift array may give a nil base address, and some OpenSSL paths treat a NULL
/// buffer differently from a zero-length one (or fail outright), so zero-length inputs get a
/// pointer to a dummy byte instead. The length passed alongside stays 0.
extension Array where Element == UInt8 {
    func withNonNullBytes<R, E: Error>(
        _ body: (UnsafePointer<UInt8>) throws(E) -> R
    ) throws(E) -> R {
        var result: Result<R, E>?
        if isEmpty {
            let dummy: [UInt8] = [0]
            dummy.withUnsafeBufferPointer { buffer in
                result = Result { () throws(E) -> R in try body(buffer.baseAddress!) }
            }
        } else {
            withUnsafeBufferPointer { buffer in
                result = Result { () throws(E) -> R in try body(buffer.baseAddress!) }
            }
        }
        return try result!.get()
    }
}
