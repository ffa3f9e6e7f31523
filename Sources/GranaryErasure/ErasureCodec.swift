#if canImport(Glibc)
import Glibc
#endif
import CErasureCode
import GranaryCore
import Logging

/// A Reed–Solomon codec for one (k, m) and backend: liberasurecode driving ISA-L.
///
/// Guarantees: `encode` turns data into k data and m parity fragments, each prefixed with
/// liberasurecode's 80-byte header (index, sizes, backend); the data fragments are systematic, so
/// data fragment i's payload holds data bytes `i × payloadSize ..< (i + 1) × payloadSize` and a
/// range of the data can be read from the data fragments without decoding. `decode` returns the
/// original bytes from any k fragments; `reconstruct` recomputes one lost fragment from any k
/// others. An instance may be used from many threads at once.
public final class ErasureCodec: Sendable {
    public let k: Int
    public let m: Int
    public let backend: ErasureBackend
    let descriptor: Int32

    /// Bytes of liberasurecode's header in front of every fragment's payload.
    public static let fragmentHeaderSize = MemoryLayout<fragment_header_t>.size

    /// Creates an instance of exactly `backend`.
    public init(k: Int, m: Int, backend: ErasureBackend) throws(ErasureError) {
        do throws(StripeLayout.Invalid) {
            try StripeLayout(k: k, m: m, fragmentSize: 4096, backend: backend.rawValue).validate()
        } catch {
            throw .invalidLayout(error)
        }
        guard backend.isAvailable else { throw .backendUnavailable(backend) }
        Self.keepAllocationsWarm
        var args = ec_args()
        args.k = Int32(k)
        args.m = Int32(m)
        args.hd = Int32(m)
        // Fragment integrity is Granary's job (CRC32C per chunk block, checked end to end);
        // liberasurecode's own CRC32 would cost a third of the encode speed (PLATFORM.md).
        args.ct = CHKSUM_NONE
        let d = liberasurecode_instance_create(backend.id, &args)
        guard d > 0 else { throw .instanceCreate(backend, k: k, m: m, code: d) }
        self.k = k
        self.m = m
        self.backend = backend
        self.descriptor = d
    }

    /// The codec for `layout`: its backend if this host has it. A layout naming no particular
    /// backend history (new files) should come from `preferred(k:m:logger:)` instead.
    public convenience init(layout: StripeLayout) throws(ErasureError) {
        guard let b = ErasureBackend(rawValue: layout.backend) else { throw .unknownBackend(layout.backend) }
        do throws(StripeLayout.Invalid) { try layout.validate() } catch { throw .invalidLayout(error) }
        try self.init(k: layout.k, m: layout.m, backend: b)
    }

    /// The best backend this host has for new data: ISA-L Cauchy, else ISA-L Vandermonde, else
    /// liberasurecode's built-in Vandermonde (about 20× slower), with a warning when it falls back.
    public static func preferred(k: Int, m: Int, logger: Logger) throws(ErasureError) -> ErasureCodec {
        let order: [ErasureBackend] = [.isaLCauchy, .isaLVandermonde, .builtinVandermonde]
        var last = ErasureError.backendUnavailable(.isaLCauchy)
        for b in order {
            do throws(ErasureError) {
                let c = try ErasureCodec(k: k, m: m, backend: b)
                if b != .isaLCauchy {
                    logger.warning("erasure coding falls back to \(b.rawValue): \(ErasureBackend.isaLCauchy.rawValue) is not available here (install libisal2 for full speed)")
                }
                return c
            } catch {
                if case .invalidLayout = error { throw error }
                last = error
            }
        }
        throw last
    }

    deinit { liberasurecode_instance_destroy(descriptor) }

    /// liberasurecode allocates its fragments on every call; glibc serves allocations of that size
    /// with fresh mmaps, and a fresh mapping costs a page fault per 4 KiB touched — measured, encode
    /// drops from 8+ to about 1 GB/s (PLATFORM.md). Raising the mmap threshold to its maximum and
    /// the trim threshold well above it makes freed fragments go back to the heap and get reused.
    /// Process-wide, once, on the first codec.
    static let keepAllocationsWarm: Void = {
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 256 << 20)
    }()

    /// Payload bytes in each fragment when `dataLength` bytes are encoded (the data padded up to
    /// the backend's alignment, split k ways).
    public func payloadSize(forDataLength dataLength: Int) -> Int {
        Int(liberasurecode_get_aligned_data_size(descriptor, UInt64(dataLength))) / k
    }

    /// Encodes `data` into k + m fragments (header + payload each).
    public func encode(_ data: UnsafeRawBufferPointer) throws(ErasureError) -> EncodedStripe {
        var dataFragments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        var parityFragments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        var fragmentLength: UInt64 = 0
        // An empty buffer may have no address; liberasurecode wants one, so lend it a byte.
        let rc = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 1) { spare in
            liberasurecode_encode(descriptor, data.baseAddress?.assumingMemoryBound(to: CChar.self) ?? UnsafePointer(spare.baseAddress),
                                  UInt64(data.count), &dataFragments, &parityFragments, &fragmentLength)
        }
        guard rc == 0, let dataFragments, let parityFragments else { throw .encodeFailed(code: rc) }
        return EncodedStripe(codec: self, data: dataFragments, parity: parityFragments, fragmentLength: Int(fragmentLength), dataLength: data.count)
    }

    /// Encodes a byte array.
    public func encode(_ data: [UInt8]) throws(ErasureError) -> EncodedStripe {
        let r: Result<EncodedStripe, ErasureError> = data.withUnsafeBytes { raw in
            do throws(ErasureError) { return .success(try encode(raw)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    /// The original data from at least k fragments (whole fragments, header included, any order),
    /// left in liberasurecode's memory: no copy of the stripe is made after decoding.
    public func decode(_ fragments: [UnsafeRawBufferPointer]) throws(ErasureError) -> DecodedStripe {
        let (checked, length) = try check(fragments)
        var pointers = checked
        var out: UnsafeMutablePointer<CChar>?
        var outLength: UInt64 = 0
        let rc = pointers.withUnsafeMutableBufferPointer { p in
            liberasurecode_decode(descriptor, p.baseAddress, Int32(p.count), UInt64(length), 0, &out, &outLength)
        }
        guard rc == 0, let out else { throw .decodeFailed(code: rc) }
        return DecodedStripe(codec: self, data: out, count: Int(outLength))
    }

    /// The original data from at least k fragments (whole fragments, header included, any order),
    /// written into `output`, which must be exactly the original length. liberasurecode decodes
    /// into its own buffer, so this costs one more pass over the data than `decode(_:)`.
    public func decode(_ fragments: [UnsafeRawBufferPointer], into output: UnsafeMutableRawBufferPointer) throws(ErasureError) {
        let decoded = try decode(fragments)
        guard decoded.count == output.count else { throw .bufferSize(expected: decoded.count, got: output.count) }
        if decoded.count > 0 { decoded.withUnsafeBytes { output.copyMemory(from: $0) } }
    }

    /// The original data from at least k fragments, as a new array.
    public func decode(_ fragments: [[UInt8]]) throws(ErasureError) -> [UInt8] {
        guard let first = fragments.first else { throw .insufficientFragments(have: 0, need: k) }
        let length = try Self.originalLength(first)
        var result = [UInt8](repeating: 0, count: length)
        let r: Result<Void, ErasureError> = withRawPointers(fragments) { raws in
            result.withUnsafeMutableBytes { out in
                do throws(ErasureError) { try decode(raws, into: out); return .success(()) } catch { return .failure(error) }
            }
        }
        try r.get()
        return result
    }

    /// Recomputes fragment `index` (0..<k+m) from at least k others into `output` (exactly one
    /// fragment's length, header included).
    public func reconstruct(_ index: Int, from fragments: [UnsafeRawBufferPointer], into output: UnsafeMutableRawBufferPointer) throws(ErasureError) {
        guard (0..<(k + m)).contains(index) else { throw .reconstructFailed(index: index, code: -Int32(EINVALIDPARAMS.rawValue)) }
        let (pointers, length) = try check(fragments)
        guard output.count == length else { throw .bufferSize(expected: length, got: output.count) }
        var ptrs = pointers
        let rc = ptrs.withUnsafeMutableBufferPointer { p in
            liberasurecode_reconstruct_fragment(descriptor, p.baseAddress, Int32(p.count), UInt64(length), Int32(index),
                                                output.baseAddress?.assumingMemoryBound(to: CChar.self))
        }
        guard rc == 0 else { throw .reconstructFailed(index: index, code: rc) }
    }

    /// Recomputes fragment `index` from at least k others, as a new array.
    public func reconstruct(_ index: Int, from fragments: [[UInt8]]) throws(ErasureError) -> [UInt8] {
        guard let length = fragments.first?.count else { throw .insufficientFragments(have: 0, need: k) }
        var result = [UInt8](repeating: 0, count: length)
        let r: Result<Void, ErasureError> = withRawPointers(fragments) { raws in
            result.withUnsafeMutableBytes { out in
                do throws(ErasureError) { try reconstruct(index, from: raws, into: out); return .success(()) } catch { return .failure(error) }
            }
        }
        try r.get()
        return result
    }

    /// The fragment index written in a fragment's header.
    public static func index(of fragment: UnsafeRawBufferPointer) throws(ErasureError) -> Int {
        Int(try header(of: fragment).meta.idx)
    }

    /// The original data length recorded in a fragment's header.
    static func originalLength(_ fragment: [UInt8]) throws(ErasureError) -> Int {
        let r: Result<fragment_header_t, ErasureError> = fragment.withUnsafeBytes { raw in
            do throws(ErasureError) { return .success(try header(of: raw)) } catch { return .failure(error) }
        }
        return Int(try r.get().meta.orig_data_size)
    }

    /// A fragment's liberasurecode header, refused when the fragment is too short or the magic is not there.
    static func header(of fragment: UnsafeRawBufferPointer) throws(ErasureError) -> fragment_header_t {
        guard fragment.count >= fragmentHeaderSize else {
            throw .badFragment(position: 0, reason: "\(fragment.count) bytes, shorter than the \(fragmentHeaderSize)-byte header")
        }
        var header = fragment_header_t()
        withUnsafeMutableBytes(of: &header) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: fragment[0..<fragmentHeaderSize])) }
        guard header.magic == LIBERASURECODE_FRAG_HEADER_MAGIC else { throw .badFragment(position: 0, reason: "not a liberasurecode fragment") }
        return header
    }

    /// Validates count and sizes; liberasurecode trusts its inputs, so nothing malformed may reach it.
    func check(_ fragments: [UnsafeRawBufferPointer]) throws(ErasureError) -> ([UnsafeMutablePointer<CChar>?], Int) {
        guard fragments.count >= k else { throw .insufficientFragments(have: fragments.count, need: k) }
        let length = fragments[0].count
        var seen = Set<Int>()
        for (i, f) in fragments.enumerated() {
            guard f.count == length else { throw .badFragment(position: i, reason: "\(f.count) bytes where the others have \(length)") }
            do throws(ErasureError) {
                let idx = try Self.index(of: f)
                guard idx < k + m else { throw ErasureError.badFragment(position: i, reason: "index \(idx) outside 0..<\(k + m)") }
                seen.insert(idx)
            } catch {
                if case let .badFragment(_, reason) = error { throw .badFragment(position: i, reason: reason) }
                throw error
            }
        }
        guard seen.count >= k else { throw .insufficientFragments(have: seen.count, need: k) }
        let pointers = fragments.map { UnsafeMutablePointer(mutating: $0.baseAddress?.assumingMemoryBound(to: CChar.self)) }
        return (pointers, length)
    }
}

/// Runs `body` with raw views of every array (nested so each stays pinned for the whole call).
func withRawPointers<R>(_ arrays: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
    func go(_ i: Int, _ acc: [UnsafeRawBufferPointer]) -> R {
        guard i < arrays.count else { return body(acc) }
        return arrays[i].withUnsafeBytes { go(i + 1, acc + [$0]) }
    }
    return go(0, [])
}
