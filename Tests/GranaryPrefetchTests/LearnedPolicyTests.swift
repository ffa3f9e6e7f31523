import Testing
@testable import GranaryPrefetch

@Suite struct LearnedPolicyTests {
    @Test func uniformEpochsBeatLRUTwiceOver() {
        let sim = TraceSimulator(records: TraceGenerator(seed: 9, scale: 0.025).uniform(epochs: 4))
        let options = TraceSimulator.Options(cacheBytes: sim.distinctReadBytes / 5)
        let lru = sim.run(LRUPolicy(), options: options)
        let learned = sim.run(LearnedPolicy(keys: sim.keys), options: options)
        let belady = sim.run(BeladyPolicy(future: sim.readSequence), options: options)
        #expect(learned.hitRatio >= 2 * lru.hitRatio)
        #expect(learned.hitRatio >= 0.9 * belady.hitRatio)
        // Eviction alone (no prefetch) keeps the unread part of the pass, as Belady would.
        let alone = sim.run(LearnedPolicy(keys: sim.keys, configuration: .init(prefetch: false)), options: options)
        #expect(alone.hitRatio >= 0.8 * belady.hitRatio)
    }

    @Test func writeOnceCheckpointsAreRefused() {
        let keys = KeyTable()
        let data = keys.intern("train/a.jpg", size: 10)
        let ckpt = keys.intern("ckpt/step-000100.pt#0", size: 100)
        let policy = LearnedPolicy(keys: keys)
        policy.accessed(Access(time: 0, job: keys.job("r"), item: data, size: 10), cached: false)
        policy.accessed(Access(time: 1, job: 0, item: ckpt, size: 100, isWrite: true), cached: false)
        #expect(policy.predictedNextRead(ckpt) == .infinity)
        #expect(!policy.admit(ckpt, size: 100, reason: .write, full: true))
        #expect(!policy.admit(ckpt, size: 100, reason: .write, full: false))
    }

    @Test func writtenItemsThatGetReadAreLearned() {
        let keys = KeyTable()
        let items = (0..<30).map { keys.intern("out/f\($0)", size: 1) }
        let policy = LearnedPolicy(keys: keys)
        let j = keys.job("r")
        var t = 0.0
        for i in items.prefix(20) {
            policy.accessed(Access(time: t, job: j, item: i, size: 1, isWrite: true), cached: false)
            t += 1
        }
        for i in items.prefix(20) {  // every written file is read back: a staging pattern
            policy.accessed(Access(time: t, job: j, item: i, size: 1), cached: false)
            t += 1
        }
        policy.accessed(Access(time: t, job: j, item: items[25], size: 1, isWrite: true), cached: false)
        #expect(policy.predictedNextRead(items[25]).map(\.isFinite) == true)
        #expect(policy.admit(items[25], size: 1, reason: .write, full: false))
    }

    @Test func sequentialStreamsGetReadaheadThatGrows() {
        let keys = KeyTable()
        let blocks = (0..<100).map { keys.intern("shards/s.tar#\($0)", size: 1 << 20) }
        let policy = LearnedPolicy(keys: keys)
        let j = keys.job("loader")
        var depths: [Int] = []
        for n in 0..<6 {
            policy.accessed(Access(time: Double(n), job: j, item: blocks[n], size: 1 << 20), cached: false)
            let depth = policy.readaheadDepth(job: j)
            depths.append(depth)
            // The soonest candidates are exactly the next `depth` blocks, in order.
            let next = policy.prefetchCandidates(limit: depth)
            #expect(next == Array(blocks[(n + 1)..<(n + 1 + depth)]))
        }
        #expect(depths == [0, 2, 4, 8, 16, 32])
        // A jump breaks the stream: readahead starts over.
        policy.accessed(Access(time: 7, job: j, item: blocks[60], size: 1 << 20), cached: false)
        #expect(policy.readaheadDepth(job: j) == 0)
    }

    @Test func directoriesReadTogetherArePrefetchedTogether() {
        // A job reads 10 directories one at a time; next epoch it visits them in another order.
        let keys = KeyTable()
        let dirs = (0..<10).map { d in (0..<10).map { keys.intern("data/d\(d)/f\($0)", size: 1) } }
        let policy = LearnedPolicy(keys: keys)
        let j = keys.job("loader")
        var t = 0.0
        func read(_ item: Int) {
            policy.accessed(Access(time: t, job: j, item: item, size: 1), cached: false)
            t += 1
        }
        for d in 0..<10 { dirs[d].forEach(read) }
        for d in [3, 1, 4, 0, 5, 9, 2, 6, 8, 7] { dirs[d].forEach(read) }
        read(dirs[4][3])  // starts the third pass, in directory 4
        let next = policy.prefetchCandidates(limit: 9)
        #expect(Set(next) == Set(dirs[4]).subtracting([dirs[4][3]]))
    }

    @Test func importanceSamplingBeatsLFU() {
        let sim = TraceSimulator(records: TraceGenerator(seed: 4, scale: 0.1).importance())
        let options = TraceSimulator.Options(cacheBytes: sim.distinctReadBytes / 4)
        let lfu = sim.run(LFUPolicy(), options: options)
        let learned = sim.run(LearnedPolicy(keys: sim.keys), options: options)
        let belady = sim.run(BeladyPolicy(future: sim.readSequence), options: options)
        #expect(learned.hitRatio > lfu.hitRatio)
        #expect(learned.hitRatio >= 0.85 * belady.hitRatio)
    }
}
