import Testing
@testable import GranaryPrefetch

/// Replays `keys` (one read each, 1 byte, 1 ms apart) through `policy` with a 3-byte cache.
func hits(_ keys: [String], _ policy: (TraceSimulator) -> any CachePolicy, cache: Int = 3) -> Int {
    let records = keys.enumerated().map { TraceRecord(t: Double($0.offset) * 0.001, job: "j", key: $0.element, size: 1) }
    let sim = TraceSimulator(records: records)
    return sim.run(policy(sim), options: .init(cacheBytes: cache, prefetch: false)).hits
}

@Suite struct PolicyTests {
    @Test func lruEvictsTheLeastRecent() {
        // A A A B C D A: D evicts A (least recent: A@3 < B@4 < C@5); A then misses. Hits: A, A.
        #expect(hits(["A", "A", "A", "B", "C", "D", "A"]) { _ in LRUPolicy() } == 2)
        // A B C A D B A: D evicts B, B evicts C; hits: A@4, A@7.
        #expect(hits(["A", "B", "C", "A", "D", "B", "A"]) { _ in LRUPolicy() } == 2)
    }

    @Test func lfuEvictsTheLeastFrequentOldestFirst() {
        // A A A B C D A: A has 3 reads, D evicts B (1 read, oldest); A then hits. Hits: A, A, A.
        #expect(hits(["A", "A", "A", "B", "C", "D", "A"]) { _ in LFUPolicy() } == 3)
    }

    @Test func pinnedKeepsTheFirstItemsForever() {
        // A B C fill the cache; D is refused twice; A and B hit. LRU would hit only D.
        let keys = ["A", "B", "C", "D", "A", "D", "B"]
        #expect(hits(keys) { _ in PinnedPolicy() } == 2)
        #expect(hits(keys) { _ in LRUPolicy() } == 1)
    }

    @Test func beladyOnTheTextbookSequence() {
        // 7 0 1 2 0 3 0 4 2 3 0 3 2 1 2 0 1 7 0 1 with 3 frames. Textbook OPT (always admit):
        // 9 faults = 11 hits. With optimal bypass, 4 (never read again) is not admitted, so 0
        // stays and its read at position 11 hits as well: 12 hits.
        //   7m 0m 1m 2m(-7) 0h 3m(-1) 0h 4(bypass) 2h 3h 0h 3h 2h 1m(-3) 2h 0h 1h 7m(-2) 0h 1h
        let seq = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1].map(String.init)
        #expect(hits(seq) { BeladyPolicy(future: $0.readSequence) } == 12)
        #expect(hits(seq) { _ in LRUPolicy() } == 8)
    }

    @Test func beladyIsAnUpperBoundForDemandPolicies() {
        let records = TraceGenerator(seed: 7, scale: 0.02).importance(passes: 2)
        let sim = TraceSimulator(records: records)
        let options = TraceSimulator.Options(cacheBytes: sim.distinctReadBytes / 10, prefetch: false)
        let belady = sim.run(BeladyPolicy(future: sim.readSequence), options: options).hits
        for policy in [LRUPolicy(), LFUPolicy(), PinnedPolicy()] as [any CachePolicy] {
            #expect(sim.run(policy, options: options).hits <= belady)
        }
    }

    @Test func hintedWithoutHintsIsLRU() {
        let keys = ["A", "B", "C", "A", "D", "B", "A", "C", "D", "D", "E", "A"]
        #expect(hits(keys) { _ in HintedPolicy() } == hits(keys) { _ in LRUPolicy() })
    }
}
