import Testing
@testable import GranaryPrefetch

@Suite struct SimulatorTests {
    @Test func aMissStallsForLatencyPlusTransfer() {
        let sim = TraceSimulator(records: [TraceRecord(t: 0, job: "j", key: "a", size: 1_000_000)])
        let r = sim.run(LRUPolicy(), options: .init(cacheBytes: 10_000_000, bandwidth: 1e9, latency: 0.002))
        #expect(abs(r.stallSeconds - 0.003) < 1e-12)
        #expect(r.reads == 1 && r.hits == 0 && r.demandBytes == 1_000_000)
        #expect(abs(sim.perfectPrefetcherStall(bandwidth: 1e9, latency: 0.002) - 0.003) < 1e-12)
    }

    @Test func hintedPrefetchNeverExceedsItsBudget() {
        // Four jobs whose windows (4 × 128 reads) hold more than the cache: prefetching must
        // still keep cached plus in-flight bytes within the budget at every step.
        let records = TraceGenerator(seed: 3, scale: 0.02).shared(jobs: 4, epochs: 2)
        let sim = TraceSimulator(records: records)
        for fraction in [0.05, 0.25] {
            let cache = Int(Double(sim.distinctReadBytes) * fraction)
            let r = sim.run(HintedPolicy(), options: .init(cacheBytes: cache, hintWindow: 128))
            #expect(r.peakBytes <= cache)
            #expect(r.budgetViolations == 0 && r.invalidVictims == 0)
            #expect(r.prefetchedItems > 0)
        }
    }

    @Test func hintedMeetsItsTargetsOnASmallTrace() {
        let sim = TraceSimulator(records: TraceGenerator(seed: 5, scale: 0.05).uniform(epochs: 3))
        let options = TraceSimulator.Options(cacheBytes: sim.distinctReadBytes / 10)
        var hinted = options
        hinted.hintWindow = 128
        let h = sim.run(HintedPolicy(), options: hinted)
        let b = sim.run(BeladyPolicy(future: sim.readSequence), options: options)
        #expect(h.hitRatio >= 0.95 * b.hitRatio)
        #expect(h.stallSeconds <= 1.1 * sim.perfectPrefetcherStall(bandwidth: options.bandwidth, latency: options.latency))
    }

    @Test func writesNeitherStallNorCountAsReads() {
        let records = [TraceRecord(t: 0, job: "j", key: "ckpt#0", size: 100, isWrite: true),
                       TraceRecord(t: 1, job: "j", key: "ckpt#0", size: 100)]
        let r = TraceSimulator(records: records).run(LRUPolicy(), options: .init(cacheBytes: 1000))
        #expect(r.writes == 1 && r.reads == 1 && r.hits == 1 && r.stallSeconds == 0)
    }
}
