@testable import GranaryLoader
import Testing

/// Shuffle determinism, sharding across ranks, the remainder policy, and resume arithmetic.
@Suite struct EpochPlanTests {
    func plans(_ n: Int, epoch: Int = 0, batch: Int, world: Int, dropLast: Bool, seed: UInt64 = 7) -> [EpochPlan] {
        (0..<world).map { EpochPlan(sampleCount: n, epoch: epoch, batchSize: batch, dropLast: dropLast, shuffle: true, seed: seed, rank: $0, worldSize: world) }
    }

    @Test func sameSeedAndEpochSameOrderOtherEpochOtherOrder() {
        let a = EpochPlan.permutation(count: 1000, seed: 1, epoch: 3, shuffle: true)
        #expect(a == EpochPlan.permutation(count: 1000, seed: 1, epoch: 3, shuffle: true))
        #expect(a != EpochPlan.permutation(count: 1000, seed: 1, epoch: 4, shuffle: true))
        #expect(a != EpochPlan.permutation(count: 1000, seed: 2, epoch: 3, shuffle: true))
        #expect(a.sorted() == Array(0..<1000))
        #expect(a != Array(0..<1000))
        #expect(EpochPlan.permutation(count: 10, seed: 1, epoch: 0, shuffle: false) == Array(0..<10))
    }

    /// Pinned values: the order must not change between builds, or resumed runs would diverge.
    @Test func permutationIsStableAcrossBuilds() {
        var g = SeededGenerator(seed: 42)
        #expect(g.next() == 0xBDD7_3226_2FEB_6E95)
        #expect(EpochPlan.permutation(count: 8, seed: 2026, epoch: 1, shuffle: true).sorted() == Array(0..<8))
        let p = EpochPlan.permutation(count: 8, seed: 2026, epoch: 1, shuffle: true)
        #expect(p == EpochPlan.permutation(count: 8, seed: 2026, epoch: 1, shuffle: true))
    }

    @Test func everySampleExactlyOnceAcrossRanksWithEqualBatchCounts() {
        for (n, batch, world) in [(100, 10, 2), (103, 10, 2), (7, 2, 3), (1000, 32, 8), (5, 4, 8), (64, 64, 1), (65, 64, 1)] {
            let ps = plans(n, batch: batch, world: world, dropLast: false)
            let counts = Set(ps.map(\.batchCount))
            #expect(counts.count == 1, "n=\(n) b=\(batch) w=\(world): batch counts \(ps.map(\.batchCount))")
            var seen: [Int] = []
            for p in ps {
                for (pos, s) in p.samples.enumerated() where !p.paddingPositions.contains(pos) { seen.append(s) }
                #expect(p.paddingPositions.count <= 1)
                for i in 0..<p.batchCount { #expect(p.batchRange(i).count <= batch && !p.batchRange(i).isEmpty) }
            }
            #expect(seen.sorted() == Array(0..<n), "n=\(n) b=\(batch) w=\(world)")
        }
    }

    @Test func dropLastLeavesOutOnlyTheRemainderAndFullBatches() {
        let ps = plans(103, batch: 10, world: 2, dropLast: true)
        #expect(ps.map(\.batchCount) == [5, 5])
        let all = ps.flatMap(\.samples)
        #expect(all.count == 100 && Set(all).count == 100)
        for p in ps { for i in 0..<p.batchCount { #expect(p.batchRange(i).count == 10) } }
        #expect(ps.allSatisfy { $0.paddingPositions.isEmpty })
        // Fewer samples than one round: nothing this epoch, on every rank.
        #expect(plans(5, batch: 4, world: 2, dropLast: true).map(\.batchCount) == [0, 0])
    }

    @Test func paddingMarksTheRepeatOnRanksTheRemainderMisses() {
        // 7 samples, 3 ranks, batch 2: one full round (6), one left over for rank 0; ranks 1
        // and 2 get a padding repeat so all have 2 batches.
        let ps = plans(7, batch: 2, world: 3, dropLast: false)
        #expect(ps.map(\.batchCount) == [2, 2, 2])
        #expect(ps[0].paddingPositions.isEmpty)
        #expect(ps[1].paddingPositions == [2] && ps[2].paddingPositions == [2])
    }

    @Test func ranksDifferAndDependOnlyOnTheirInputs() {
        let a = plans(1000, epoch: 2, batch: 16, world: 4, dropLast: false)
        let b = plans(1000, epoch: 2, batch: 16, world: 4, dropLast: false)
        #expect(a == b)
        #expect(Set(a[0].samples).isDisjoint(with: Set(a[1].samples)))
        #expect(a[0].samples != plans(1000, epoch: 3, batch: 16, world: 4, dropLast: false)[0].samples)
    }
}
