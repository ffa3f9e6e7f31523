import CErasureCode

/// liberasurecode called from C, the baseline `ErasureCodec` is measured against.
///
/// Guarantees: the loops, the liberasurecode calls and the clock (`CLOCK_MONOTONIC`) are C code
/// (`granary_bench_*` in CErasureCode's shim header), driving the codec's own descriptor — the same
/// backend, k, m and `CHKSUM_NONE` — so a timing differs from the Swift codec's only by what the
/// Swift wrapper adds. Every call's result is released inside the loop, as by a caller that is done
/// with it. Fragments are checked exactly as `ErasureCodec.decode` checks them before C sees them.
/// It lives here because GranaryErasure is the one module that may import liberasurecode.
public enum CodecBaseline {
    /// Nanoseconds that `iterations` calls of `liberasurecode_encode` (each followed by
    /// `liberasurecode_encode_cleanup`) on `data` take, timed in C.
    public static func encodeNanoseconds(_ codec: ErasureCodec, data: UnsafeRawBufferPointer, iterations: Int) throws(ErasureError) -> Int64 {
        let ns = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 1) { spare in
            // As in `ErasureCodec.encode`: an empty buffer may have no address, liberasurecode wants one.
            granary_bench_encode(codec.descriptor, data.baseAddress?.assumingMemoryBound(to: CChar.self) ?? UnsafePointer(spare.baseAddress),
                                 UInt64(data.count), Int32(clamping: iterations))
        }
        guard ns >= 0 else { throw .encodeFailed(code: Int32(clamping: ns)) }
        return ns
    }

    /// Nanoseconds that `iterations` calls of `liberasurecode_decode` (each followed by
    /// `liberasurecode_decode_cleanup`) on `fragments` take, timed in C.
    public static func decodeNanoseconds(_ codec: ErasureCodec, fragments: [UnsafeRawBufferPointer], iterations: Int) throws(ErasureError) -> Int64 {
        let (checked, length) = try codec.check(fragments)
        var pointers = checked
        let ns = pointers.withUnsafeMutableBufferPointer { p in
            granary_bench_decode(codec.descriptor, p.baseAddress, Int32(p.count), UInt64(length), Int32(clamping: iterations))
        }
        guard ns >= 0 else { throw .decodeFailed(code: Int32(clamping: ns)) }
        return ns
    }

    /// Nanoseconds that `iterations` calls of `liberasurecode_decode`, each result copied into
    /// `output` and then released, take, timed in C: the C counterpart of `ErasureCodec.decode(_:into:)`.
    public static func decodeIntoNanoseconds(_ codec: ErasureCodec, fragments: [UnsafeRawBufferPointer], into output: UnsafeMutableRawBufferPointer,
                                             iterations: Int) throws(ErasureError) -> Int64 {
        let (checked, length) = try codec.check(fragments)
        let original = Int(try ErasureCodec.header(of: fragments[0]).meta.orig_data_size)
        guard output.count == original else { throw .bufferSize(expected: original, got: output.count) }
        var pointers = checked
        let ns = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 1) { spare in
            pointers.withUnsafeMutableBufferPointer { p in
                granary_bench_decode_into(codec.descriptor, p.baseAddress, Int32(p.count), UInt64(length),
                                          output.baseAddress?.assumingMemoryBound(to: CChar.self) ?? spare.baseAddress,
                                          UInt64(output.count), Int32(clamping: iterations))
            }
        }
        guard ns >= 0 else { throw .decodeFailed(code: Int32(clamping: ns)) }
        return ns
    }

    /// Whether one C decode of `fragments`, the same call the timed loop makes, gives exactly `expected`.
    public static func decodeMatches(_ codec: ErasureCodec, fragments: [UnsafeRawBufferPointer], expected: UnsafeRawBufferPointer) throws(ErasureError) -> Bool {
        let (checked, length) = try codec.check(fragments)
        var pointers = checked
        let rc = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 1) { spare in
            pointers.withUnsafeMutableBufferPointer { p in
                granary_bench_decode_matches(codec.descriptor, p.baseAddress, Int32(p.count), UInt64(length),
                                             expected.baseAddress?.assumingMemoryBound(to: CChar.self) ?? UnsafePointer(spare.baseAddress),
                                             UInt64(expected.count))
            }
        }
        guard rc >= 0 else { throw .decodeFailed(code: rc) }
        return rc == 1
    }
}
