/// Which samples one rank reads in one epoch, in which order and in which batches.
///
/// Guarantees (tested):
/// - The order depends only on the sample count, seed, epoch, world size and rank (and on
///   `shuffle`): the same inputs give the same plan, another epoch another permutation.
/// - Across the ranks of one world every sample of the epoch appears exactly once, and every rank
///   has the same number of batches.
/// - The remainder, when the sample count is not a multiple of `worldSize × batchSize`: with
///   `dropLast` it is left out of this epoch (fewer than `worldSize × batchSize` samples, and
///   different ones each epoch since the permutation changes); without it the remainder is dealt
///   round-robin as one last, shorter batch per rank, and a rank it leaves empty gets one sample
///   repeated from the permutation's start, marked as padding so it can be masked — the
///   convention of PyTorch's `DistributedSampler`, which pads the same way.
public struct EpochPlan: Sendable, Equatable {
    public let epoch: Int
    public let batchSize: Int
    /// This rank's samples in delivery order (indices into the dataset).
    public let samples: [Int]
    /// Positions in `samples` that are padding repeats (at most one, in the last batch).
    public let paddingPositions: Set<Int>

    public init(sampleCount: Int, epoch: Int, batchSize: Int, dropLast: Bool, shuffle: Bool, seed: UInt64,
                rank: Int, worldSize: Int) {
        self.epoch = epoch
        self.batchSize = max(1, batchSize)
        let b = self.batchSize, w = max(1, worldSize), r = min(max(0, rank), w - 1)
        let order = Self.permutation(count: max(0, sampleCount), seed: seed, epoch: epoch, shuffle: shuffle)
        let round = w * b
        let fullRounds = order.count / round
        var mine: [Int] = []
        mine.reserveCapacity(fullRounds * b + b)
        for j in 0..<fullRounds {
            let start = (j * w + r) * b
            mine.append(contentsOf: order[start..<(start + b)])
        }
        var padding: Set<Int> = []
        let leftover = order.count - fullRounds * round
        if !dropLast && leftover > 0 {
            let base = fullRounds * round
            var i = r
            while i < leftover {
                mine.append(order[base + i])
                i += w
            }
            if r >= leftover {
                padding.insert(mine.count)
                mine.append(order[r % order.count])
            }
        }
        samples = mine
        paddingPositions = padding
    }

    /// How many batches this rank delivers in the epoch (the same on every rank).
    public var batchCount: Int { (samples.count + batchSize - 1) / batchSize }

    /// The positions in `samples` of batch `i`.
    public func batchRange(_ i: Int) -> Range<Int> {
        let lo = min(samples.count, i * batchSize)
        return lo..<min(samples.count, lo + batchSize)
    }

    /// 0..<count, shuffled by a Fisher–Yates pass driven by `SeededGenerator(seed:epoch:)`.
    public static func permutation(count: Int, seed: UInt64, epoch: Int, shuffle: Bool) -> [Int] {
        var p = Array(0..<count)
        guard shuffle, count > 1 else { return p }
        var g = SeededGenerator(seed: seed, epoch: epoch)
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(g.below(UInt64(i + 1)))
            p.swapAt(i, j)
        }
        return p
    }
}
