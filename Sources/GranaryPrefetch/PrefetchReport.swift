/// Everything one `PrefetchBench` run measured: for each scenario and cache size, every policy's
/// `PolicyResult` (with its ratios to Belady, LRU and the perfect prefetcher) and the target
/// checks with the numbers they were decided on. Encodes to JSON for the CLI's `--json`.
///
/// Reading the ratios: Belady is the optimum for *demand* fetching only. Policies that prefetch
/// ("hinted", "learned") use idle link bandwidth to bring items in before they are asked for,
/// and such an item counts as a hit — so they can exceed 1.0 × Belady without any error.
/// "learned-noprefetch" is the same learned policy with prefetching off: its ratio to Belady
/// shows the quality of its eviction and admission decisions alone.
public struct PrefetchReport: Codable, Sendable {
    public var bandwidth: Double
    public var latency: Double
    public var hintWindow: Int
    public var scale: Double
    public var scenarios: [Scenario]
    public var checks: [Check]
    /// Whether every check passed.
    public var allPassed: Bool

    /// One trace: its size and a run per cache size.
    public struct Scenario: Codable, Sendable {
        public var name: String
        public var accesses: Int
        public var reads: Int
        public var writes: Int
        public var distinctReadBytes: Int
        public var runs: [CacheRun]
    }

    /// One cache size.
    public struct CacheRun: Codable, Sendable {
        public var cacheBytes: Int
        /// Cache size as a fraction of the distinct bytes read, when chosen that way.
        public var cacheFraction: Double?
        public var perfectStallSeconds: Double
        public var results: [PolicyResult]

        public func result(_ policy: String) -> PolicyResult? { results.first { $0.policy == policy } }
    }

    /// One target, e.g. "learned hit ratio ≥ 0.9 × belady" on uniform at 10 %.
    public struct Check: Codable, Sendable {
        public var scenario: String
        public var cacheBytes: Int
        public var cacheFraction: Double?
        public var name: String
        /// The measured left-hand side, e.g. learned hit ratio.
        public var value: Double
        /// What it was compared with, e.g. 0.9 × belady's hit ratio.
        public var threshold: Double
        /// "≥", "≤" or ">".
        public var comparison: String
        public var passed: Bool
    }
}
