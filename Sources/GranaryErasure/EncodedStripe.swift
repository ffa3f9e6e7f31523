import CErasureCode

/// The k + m fragments of one encode, in liberasurecode's memory until this goes away.
///
/// Holding the library's buffers rather than copying them saves a pass over every stripe; callers
/// send fragments straight from `fragment(_:)`. `@unchecked Sendable` is safe: the memory is
/// written once, by `encode`, before this exists, and only read afterwards; it is freed in
/// `deinit`, when no reference (and so no reader) is left.
public final class EncodedStripe: @unchecked Sendable {
    let codec: ErasureCodec
    let data: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let parity: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    /// Bytes of every fragment, header included.
    public let fragmentLength: Int
    /// Bytes that were encoded.
    public let dataLength: Int

    init(codec: ErasureCodec, data: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
         parity: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, fragmentLength: Int, dataLength: Int) {
        self.codec = codec
        self.data = data
        self.parity = parity
        self.fragmentLength = fragmentLength
        self.dataLength = dataLength
    }

    deinit { liberasurecode_encode_cleanup(codec.descriptor, data, parity) }

    public var count: Int { codec.k + codec.m }

    /// Fragment `index` (data fragments 0..<k, then parity), header included.
    public func fragment(_ index: Int) -> UnsafeRawBufferPointer {
        precondition((0..<count).contains(index), "fragment index \(index) outside 0..<\(count)")
        let p = index < codec.k ? data[index] : parity[index - codec.k]
        return UnsafeRawBufferPointer(start: p, count: fragmentLength)
    }

    /// A copy of fragment `index`.
    public func fragmentBytes(_ index: Int) -> [UInt8] { Array(fragment(index)) }
}
