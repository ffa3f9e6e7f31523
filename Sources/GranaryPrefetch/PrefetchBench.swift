/// Runs every policy over the standard scenarios (or a user's trace) at several cache sizes and
/// checks the targets, so iterating on a policy is one command (`prefetch-sim`).
///
/// Defaults model a client on a fast network file system: 1 GB/s, 2 ms per request. Cache sizes
/// are 10 %, 25 % and 50 % of each trace's distinct bytes read, unless `cacheBytes` is given.
/// Targets (each reported with its numbers, never assumed):
/// - every scenario, with hints: hinted hit ratio ≥ 0.95 × Belady's and stall ≤ 1.1 × the
///   perfect prefetcher's;
/// - without hints: uniform learned ≥ 0.9 × Belady and ≥ 2 × LRU; shared ≥ 0.85 × Belady;
///   importance ≥ 0.85 × Belady and above LFU.
/// See `PrefetchReport` for why a prefetching policy may exceed Belady.
public struct PrefetchBench: Sendable {
    public static let defaultBandwidth = 1e9
    public static let defaultLatency = 0.002
    public static let cacheFractions = [0.10, 0.25, 0.50]
    /// The scale `prefetch-sim` uses unless told: the full standard set (scale 1) in optimized
    /// builds, where it takes seconds; a quarter of it in debug builds, where unspecialized
    /// generics make the full set take over a minute and iteration wants well under one.
    #if DEBUG
    public static let defaultScale = 0.25
    #else
    public static let defaultScale = 1.0
    #endif

    public init() {}

    /// Runs the standard set (or `trace`) and checks the targets. `scale` and `seed` shape the
    /// generated scenarios; `scenarios` and `policies`, when given, restrict the run to those
    /// names (checks that need a policy that did not run are left out); `progress` receives one
    /// line per scenario and per policy run.
    public func run(trace: [TraceRecord]? = nil, cacheBytes: Int? = nil,
                    bandwidth: Double = Self.defaultBandwidth, latency: Double = Self.defaultLatency,
                    hintWindow: Int = 128, scale: Double = Self.defaultScale, seed: UInt64 = 42,
                    scenarios only: Set<String>? = nil, policies: Set<String>? = nil, progress: (String) -> Void = { _ in }) -> PrefetchReport {
        let scenarios = trace.map { [TraceGenerator.Scenario(name: "trace", records: $0)] }
            ?? TraceGenerator(seed: seed, scale: scale).standardSet()
        var report = PrefetchReport(bandwidth: bandwidth, latency: latency, hintWindow: hintWindow,
                                    scale: scale, scenarios: [], checks: [], allPassed: true)
        for scenario in scenarios where only?.contains(scenario.name) ?? true {
            progress("\(scenario.name): \(scenario.records.count) accesses")
            let sim = TraceSimulator(records: scenario.records)
            let sizes: [(Int, Double?)] = cacheBytes.map { [($0, nil)] }
                ?? Self.cacheFractions.map { (max(1, Int(Double(sim.distinctReadBytes) * $0)), $0) }
            var runs: [PrefetchReport.CacheRun] = []
            for (bytes, fraction) in sizes {
                let run = runAll(sim, cacheBytes: bytes, fraction: fraction, bandwidth: bandwidth,
                                 latency: latency, hintWindow: hintWindow, policies: policies, progress: progress)
                report.checks += checks(scenario.name, run)
                runs.append(run)
            }
            report.scenarios.append(.init(name: scenario.name, accesses: sim.accesses.count,
                                          reads: sim.readSequence.count,
                                          writes: sim.accesses.count - sim.readSequence.count,
                                          distinctReadBytes: sim.distinctReadBytes, runs: runs))
        }
        report.allPassed = report.checks.allSatisfy(\.passed)
        return report
    }

    private func runAll(_ sim: TraceSimulator, cacheBytes: Int, fraction: Double?, bandwidth: Double,
                        latency: Double, hintWindow: Int, policies: Set<String>?,
                        progress: (String) -> Void) -> PrefetchReport.CacheRun {
        let plain = TraceSimulator.Options(cacheBytes: cacheBytes, bandwidth: bandwidth, latency: latency)
        var hinted = plain
        hinted.hintWindow = hintWindow
        let runs: [(any CachePolicy, TraceSimulator.Options)] = [
            (LRUPolicy(), plain),
            (LFUPolicy(), plain),
            (PinnedPolicy(), plain),
            (BeladyPolicy(future: sim.readSequence), plain),
            (LearnedPolicy(keys: sim.keys), plain),
            (LearnedPolicy(keys: sim.keys, configuration: .init(prefetch: false)), plain),
            (HintedPolicy(), hinted),
        ]
        var results = runs.filter { policies?.contains($0.0.name) ?? true }.map { policy, options in
            let r = sim.run(policy, options: options)
            progress("  \(cacheBytes >> 20) MiB \(r.policy): hit \(r.hitRatio)")
            return r
        }
        let perfect = sim.perfectPrefetcherStall(bandwidth: bandwidth, latency: latency)
        let belady = results.first { $0.policy == "belady" }?.hitRatio ?? 0
        let lru = results.first { $0.policy == "lru" }?.hitRatio ?? 0
        for k in results.indices {
            results[k].hitVsBelady = belady > 0 ? results[k].hitRatio / belady : nil
            results[k].hitVsLRU = lru > 0 ? results[k].hitRatio / lru : nil
            results[k].stallVsPerfect = perfect > 0 ? results[k].stallSeconds / perfect : nil
        }
        return .init(cacheBytes: cacheBytes, cacheFraction: fraction, perfectStallSeconds: perfect, results: results)
    }

    private func checks(_ scenario: String, _ run: PrefetchReport.CacheRun) -> [PrefetchReport.Check] {
        var out: [PrefetchReport.Check] = []
        func hit(_ p: String) -> Double { run.result(p)?.hitRatio ?? 0 }
        func add(_ name: String, _ value: Double, _ comparison: String, _ threshold: Double) {
            // A check is only made when every policy it names was run (the CLI can select some).
            let named = ["hinted", "belady", "learned", "lru", "lfu"].filter { name.contains($0) }
            guard named.allSatisfy({ run.result($0) != nil }) else { return }
            let passed = comparison == "≥" ? value >= threshold : comparison == "≤" ? value <= threshold : value > threshold
            out.append(.init(scenario: scenario, cacheBytes: run.cacheBytes, cacheFraction: run.cacheFraction,
                             name: name, value: value, threshold: threshold, comparison: comparison, passed: passed))
        }
        add("hinted hit ≥ 0.95 × belady", hit("hinted"), "≥", 0.95 * hit("belady"))
        add("hinted stall ≤ 1.1 × perfect", run.result("hinted")?.stallSeconds ?? 0, "≤", 1.1 * run.perfectStallSeconds)
        switch scenario {
        case "uniform":
            add("learned hit ≥ 0.9 × belady", hit("learned"), "≥", 0.9 * hit("belady"))
            add("learned hit ≥ 2 × lru", hit("learned"), "≥", 2 * hit("lru"))
        case "shared":
            add("learned hit ≥ 0.85 × belady", hit("learned"), "≥", 0.85 * hit("belady"))
        case "importance":
            add("learned hit ≥ 0.85 × belady", hit("learned"), "≥", 0.85 * hit("belady"))
            add("learned hit > lfu", hit("learned"), ">", hit("lfu"))
        default: break
        }
        return out
    }
}
