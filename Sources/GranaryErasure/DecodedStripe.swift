import CErasureCode

/// The original data of one decode, in liberasurecode's memory until this goes away.
///
/// liberasurecode always decodes into a buffer of its own; holding that buffer instead of copying
/// it saves a pass over the whole stripe, which costs about a quarter of decode time (see
/// `granary bench ec`). A degraded read copies out only the range it was asked for.
/// Guarantees: the bytes are exactly the bytes that were encoded, and stay valid while this object
/// lives: inside `withUnsafeBytes`, or with `withExtendedLifetime` around any use of `bytes`.
/// `@unchecked Sendable` is safe: the memory is written once, by `decode`, before this exists,
/// only read afterwards, and freed in `deinit`, when no reference (and so no reader) is left.
public final class DecodedStripe: @unchecked Sendable {
    let codec: ErasureCodec
    let data: UnsafeMutablePointer<CChar>
    /// Bytes that were encoded, and so decoded.
    public let count: Int

    init(codec: ErasureCodec, data: UnsafeMutablePointer<CChar>, count: Int) {
        self.codec = codec
        self.data = data
        self.count = count
    }

    deinit { liberasurecode_decode_cleanup(codec.descriptor, data) }

    /// The decoded bytes, valid while this object lives (Swift may end its life after its last use,
    /// so prefer `withUnsafeBytes`).
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: data, count: count) }

    /// Runs `body` with the decoded bytes, keeping them alive for the whole call.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        defer { withExtendedLifetime(self) {} }
        return try body(bytes)
    }
}
