import GranaryCore
import GranaryErasure
import Logging
import Testing

/// The codec over real liberasurecode and ISA-L: any k fragments give the data back, any lost
/// fragment can be recomputed, data fragments are systematic, and bad input is refused by name.
@Suite struct ErasureCodecTests {
    static func data(_ n: Int, seed: UInt32 = 1) -> [UInt8] {
        var x = seed
        return (0..<n).map { _ in
            x = x &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: x >> 24)
        }
    }

    /// Every k-subset of 0..<n.
    static func subsets(_ n: Int, _ k: Int) -> [[Int]] {
        guard k > 0 else { return [[]] }
        guard n >= k else { return [] }
        return subsets(n - 1, k - 1).map { $0 + [n - 1] } + subsets(n - 1, k)
    }

    @Test(arguments: [(4, 2), (6, 3), (8, 3), (1, 1), (10, 4)])
    func anyKFragmentsDecode(k: Int, m: Int) throws {
        let codec = try ErasureCodec(k: k, m: m, backend: .isaLCauchy)
        let input = Self.data(k * 4096 * 3 + 777)
        let stripe = try codec.encode(input)
        #expect(stripe.count == k + m)
        let fragments = (0..<(k + m)).map { stripe.fragmentBytes($0) }
        // All subsets for small layouts; for the wider ones, the ones that drop the first m, the
        // last m and a spread.
        let sets = k + m <= 9 ? Self.subsets(k + m, k) : [Array(m..<(k + m)), Array(0..<k), Array((0..<(k + m)).sorted { ($0 * 7) % (k + m) < ($1 * 7) % (k + m) }.prefix(k))]
        for set in sets {
            #expect(try codec.decode(set.map { fragments[$0] }) == input, "fragments \(set)")
        }
    }

    @Test func dataFragmentsAreSystematic() throws {
        let codec = try ErasureCodec(k: 4, m: 2, backend: .isaLCauchy)
        let input = Self.data(4 << 20)
        let stripe = try codec.encode(input)
        let payload = codec.payloadSize(forDataLength: input.count)
        #expect(payload == 1 << 20)
        #expect(stripe.fragmentLength == ErasureCodec.fragmentHeaderSize + payload)
        #expect(ErasureCodec.fragmentHeaderSize == 80)
        for i in 0..<4 {
            let f = stripe.fragment(i)
            #expect(Array(f[ErasureCodec.fragmentHeaderSize...]) == Array(input[(i * payload)..<((i + 1) * payload)]))
            #expect(try ErasureCodec.index(of: f) == i)
        }
    }

    @Test func everyLostFragmentIsRecomputedExactly() throws {
        let codec = try ErasureCodec(k: 6, m: 3, backend: .isaLCauchy)
        let stripe = try codec.encode(Self.data(6 * 65_536))
        let fragments = (0..<9).map { stripe.fragmentBytes($0) }
        for lost in 0..<9 {
            // From the k fragments after the lost one (wrapping), never including it.
            let from = (1...6).map { fragments[(lost + $0) % 9] }
            #expect(try codec.reconstruct(lost, from: from) == fragments[lost], "fragment \(lost)")
        }
    }

    @Test func backendsAgreeOnDataAndAllRoundTrip() throws {
        let input = Self.data(100_000)
        for backend in [ErasureBackend.isaLCauchy, .isaLVandermonde, .builtinVandermonde] {
            let codec = try ErasureCodec(k: 4, m: 2, backend: backend)
            let stripe = try codec.encode(input)
            let fragments = (0..<6).map { stripe.fragmentBytes($0) }
            #expect(try codec.decode(Array(fragments[2...])) == input, "\(backend)")
        }
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        #expect(try ErasureCodec.preferred(k: 4, m: 2, logger: logger).backend == .isaLCauchy)
    }

    @Test func badInputIsRefusedByName() throws {
        #expect(throws: ErasureError.invalidLayout(.k(0))) { try ErasureCodec(k: 0, m: 2, backend: .isaLCauchy) }
        #expect(throws: ErasureError.invalidLayout(.m(0))) { try ErasureCodec(k: 4, m: 0, backend: .isaLCauchy) }
        #expect(throws: ErasureError.invalidLayout(.width(k: 30, m: 3))) { try ErasureCodec(k: 30, m: 3, backend: .isaLCauchy) }
        #expect(throws: ErasureError.unknownBackend("zfec")) {
            try ErasureCodec(layout: StripeLayout(k: 4, m: 2, fragmentSize: 1 << 20, backend: "zfec"))
        }
        #expect(throws: StripeLayout.Invalid.fragmentSize(1000)) {
            try StripeLayout(k: 4, m: 2, fragmentSize: 1000, backend: "isa_l_rs_cauchy").validate()
        }
        let codec = try ErasureCodec(k: 4, m: 2, backend: .isaLCauchy)
        let stripe = try codec.encode(Self.data(50_000))
        let fragments = (0..<6).map { stripe.fragmentBytes($0) }
        #expect(throws: ErasureError.insufficientFragments(have: 3, need: 4)) { try codec.decode(Array(fragments[0..<3])) }
        // The same fragment four times is one fragment, not four.
        #expect(throws: ErasureError.insufficientFragments(have: 1, need: 4)) { try codec.decode(Array(repeating: fragments[0], count: 4)) }
        var garbage = fragments
        garbage[1] = [UInt8](repeating: 0xAB, count: fragments[1].count)
        #expect(throws: ErasureError.badFragment(position: 1, reason: "not a liberasurecode fragment")) { try codec.decode(Array(garbage[0..<4])) }
        var short = fragments
        short[2] = Array(fragments[2].dropLast())
        #expect(throws: ErasureError.badFragment(position: 2, reason: "\(fragments[2].count - 1) bytes where the others have \(fragments[2].count)")) {
            try codec.decode(Array(short[0..<4]))
        }
        #expect(throws: ErasureError.insufficientFragments(have: 0, need: 4)) { try codec.reconstruct(1, from: []) }
        #expect(throws: ErasureError.insufficientFragments(have: 0, need: 4)) { try codec.decode([[UInt8]]()) }
    }

    @Test func emptyAndTinyInputsRoundTrip() throws {
        let codec = try ErasureCodec(k: 4, m: 2, backend: .isaLCauchy)
        for n in [1, 3, 15, 16, 17, 4095] {
            let input = Self.data(n, seed: UInt32(n))
            let stripe = try codec.encode(input)
            let fragments = (0..<6).map { stripe.fragmentBytes($0) }
            #expect(try codec.decode([fragments[5], fragments[1], fragments[4], fragments[0]]) == input, "\(n) bytes")
        }
    }
}
