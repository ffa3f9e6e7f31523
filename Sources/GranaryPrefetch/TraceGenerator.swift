#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Synthesises the standard set of AI-training access patterns the policies are judged on.
/// Every trace is a pure function of (`seed`, `scale`): the same records, in the same order, on
/// every machine (SplitMix64 and a hand-written Fisher–Yates; no standard-library randomness).
///
/// `scale` multiplies the number of samples (or shards), not the number of epochs, so the
/// shape of each pattern is kept while its size changes. At scale 1:
/// - uniform: 20,000 samples of 100 KiB ± 50 % in 100 class directories
///   (`train/c017/s000123.jpg`), one job, 4 epochs, each a fresh shuffle; 1 ms of compute per
///   sample (≈ 100 MB/s per job).
/// - shared: four jobs (`job0`…`job3`) over one 10,000-sample dataset, 3 epochs each with their
///   own shuffles, interleaved by their clocks (each 1 ms per sample, offset by ¼ ms).
/// - importance: one job drawing 20,000 samples per pass WITH replacement from Zipf(1) weights;
///   between passes a random 20 % of the samples trade weights among themselves (drift); 4 passes.
/// - shards: 64 shards of 32 × 1 MiB blocks (`shards/shard-0007.tar#12`), each epoch visits
///   the shards in a fresh order and streams each from start to end; 5 ms per block; 3 epochs.
/// - checkpoint: 10,000 samples, 3 uniform epochs, and every 2,500 samples a checkpoint write of
///   20 % of the dataset's bytes as 1 MiB blocks (`ckpt/step-002500.pt#N`), 1 ms per block.
public struct TraceGenerator: Sendable {
    public var seed: UInt64
    public var scale: Double

    /// One named trace of the standard set.
    public struct Scenario: Sendable {
        public var name: String
        public var records: [TraceRecord]
    }

    public init(seed: UInt64 = 42, scale: Double = 1) {
        self.seed = seed
        self.scale = scale
    }

    /// The five scenarios, in report order.
    public func standardSet() -> [Scenario] {
        [Scenario(name: "uniform", records: uniform()),
         Scenario(name: "shared", records: shared()),
         Scenario(name: "importance", records: importance()),
         Scenario(name: "shards", records: shards()),
         Scenario(name: "checkpoint", records: checkpoint())]
    }

    private func scaled(_ n: Int) -> Int { max(8, Int((Double(n) * scale).rounded())) }

    private func rng(_ stream: UInt64) -> SplitMix64 { SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D &+ stream) }

    /// Sample keys and sizes of a dataset of `count` samples.
    private func dataset(_ count: Int, stream: UInt64) -> [(key: String, size: Int)] {
        var r = rng(stream)
        return (0..<count).map { s in
            let size = Int(102_400 * (0.5 + r.unit()))
            return ("train/c\(pad(s % 100, 3))/s\(pad(s, 6)).jpg", size)
        }
    }

    public func uniform(epochs: Int = 4, samples: Int? = nil) -> [TraceRecord] {
        let data = dataset(samples ?? scaled(20_000), stream: 1)
        var r = rng(2)
        var out: [TraceRecord] = []
        var order = Array(data.indices)
        for _ in 0..<epochs {
            r.shuffle(&order)
            for s in order {
                out.append(TraceRecord(t: ms(out.count), job: "rank0", key: data[s].key, size: data[s].size))
            }
        }
        return out
    }

    /// `n` milliseconds, computed from the count rather than accumulated, so times stay short decimals.
    private func ms(_ n: Int, per: Double = 1) -> Double { Double(n) * per / 1000 }

    public func shared(jobs: Int = 4, epochs: Int = 3) -> [TraceRecord] {
        let data = dataset(scaled(10_000), stream: 3)
        var orders: [[Int]] = []
        for j in 0..<jobs {
            var r = rng(10 + UInt64(j))
            var order: [Int] = []
            for _ in 0..<epochs {
                var epoch = Array(data.indices)
                r.shuffle(&epoch)
                order += epoch
            }
            orders.append(order)
        }
        var out: [TraceRecord] = []
        for step in 0..<(data.count * epochs) {
            for j in 0..<jobs {
                let s = orders[j][step]
                let t = Double(step * jobs + j) / Double(jobs) / 1000
                out.append(TraceRecord(t: t, job: "job\(j)", key: data[s].key, size: data[s].size))
            }
        }
        return out
    }

    public func importance(passes: Int = 4, drift: Double = 0.2) -> [TraceRecord] {
        let data = dataset(scaled(20_000), stream: 4)
        var r = rng(5)
        // weight[s]: Zipf(1) by a random initial rank.
        var ranks = Array(data.indices)
        r.shuffle(&ranks)
        var weight = [Double](repeating: 0, count: data.count)
        for (rank, s) in ranks.enumerated() { weight[s] = 1 / Double(rank + 1) }
        var out: [TraceRecord] = []
        for pass in 0..<passes {
            if pass > 0 {
                var chosen = Array(data.indices)
                r.shuffle(&chosen)
                chosen = Array(chosen.prefix(Int(drift * Double(data.count))))
                var moved = chosen.map { weight[$0] }
                r.shuffle(&moved)
                for (s, w) in zip(chosen, moved) { weight[s] = w }
            }
            var cumulative = [Double](repeating: 0, count: data.count)
            var sum = 0.0
            for s in data.indices {
                sum += weight[s]
                cumulative[s] = sum
            }
            for _ in 0..<data.count {
                let u = r.unit() * sum
                var lo = 0, hi = data.count - 1
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if cumulative[mid] > u { hi = mid } else { lo = mid + 1 }
                }
                out.append(TraceRecord(t: ms(out.count), job: "rank0", key: data[lo].key, size: data[lo].size))
            }
        }
        return out
    }

    public func shards(epochs: Int = 3, blocksPerShard: Int = 32) -> [TraceRecord] {
        let count = max(4, Int((64 * scale).rounded()))
        let block = 1 << 20
        var r = rng(6)
        var order = Array(0..<count)
        var out: [TraceRecord] = []
        for _ in 0..<epochs {
            r.shuffle(&order)
            for s in order {
                for b in 0..<blocksPerShard {
                    out.append(TraceRecord(t: ms(out.count, per: 5), job: "rank0", key: "shards/shard-\(pad(s, 4)).tar#\(b)",
                                           size: block, offset: Int64(b * block)))
                }
            }
        }
        return out
    }

    public func checkpoint(epochs: Int = 3, every: Int? = nil, fraction: Double = 0.2) -> [TraceRecord] {
        let data = dataset(scaled(10_000), stream: 7)
        let interval = every ?? max(1, data.count / 4)
        let block = 1 << 20
        let blocks = max(1, Int(fraction * Double(data.reduce(0) { $0 + $1.size }) / Double(block)))
        var r = rng(8)
        var order = Array(data.indices)
        var out: [TraceRecord] = []
        var step = 0
        for _ in 0..<epochs {
            r.shuffle(&order)
            for s in order {
                out.append(TraceRecord(t: ms(out.count), job: "rank0", key: data[s].key, size: data[s].size))
                step += 1
                if step % interval == 0 {
                    for b in 0..<blocks {
                        out.append(TraceRecord(t: ms(out.count), job: "rank0", key: "ckpt/step-\(pad(step, 6)).pt#\(b)",
                                               size: block, offset: Int64(b * block), isWrite: true))
                    }
                }
            }
        }
        return out
    }
}

/// `n` in decimal, zero-padded to `width` digits.
func pad(_ n: Int, _ width: Int) -> String {
    let s = String(n)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}
