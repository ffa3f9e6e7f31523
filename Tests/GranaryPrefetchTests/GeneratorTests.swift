import Testing
@testable import GranaryPrefetch

@Suite struct GeneratorTests {
    @Test func sameSeedSameTraceOtherSeedOtherTrace() {
        let a = TraceGenerator(seed: 11, scale: 0.02).standardSet()
        let b = TraceGenerator(seed: 11, scale: 0.02).standardSet()
        let c = TraceGenerator(seed: 12, scale: 0.02).standardSet()
        #expect(a.map(\.name) == ["uniform", "shared", "importance", "shards", "checkpoint"])
        for (x, y) in zip(a, b) { #expect(x.records == y.records) }
        #expect(a[0].records != c[0].records)
    }

    @Test func splitMixIsTheReferenceSequence() {
        // First outputs of SplitMix64 seeded with 0 (Vigna's reference implementation).
        var r = SplitMix64(seed: 0)
        #expect(r.next() == 0xE220_A839_7B1D_CDAF)
        #expect(r.next() == 0x6E78_9E6A_A1B9_65F4)
    }

    @Test func shapesAreAsDocumented() {
        let g = TraceGenerator(seed: 1, scale: 0.02)
        let uniform = g.uniform(epochs: 2)
        let n = uniform.count / 2
        #expect(Set(uniform[..<n].map(\.key)) == Set(uniform[n...].map(\.key)))  // each epoch a permutation
        #expect(Set(uniform[..<n].map(\.key)).count == n)
        for trace in g.standardSet().map(\.records) {
            #expect(zip(trace, trace.dropFirst()).allSatisfy { $0.t <= $1.t })
        }
        #expect(g.shards().allSatisfy { KeyTable.structure(of: $0.key).ordinal != nil })
        let checkpoint = g.checkpoint()
        #expect(checkpoint.contains { $0.isWrite && $0.key.hasPrefix("ckpt/step-") })
    }
}
