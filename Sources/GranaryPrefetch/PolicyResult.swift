/// What one policy achieved replaying one trace with one cache size: the hit ratios, what its
/// prefetching cost and bought, the modelled data stall, and its own CPU cost. The ratios to
/// Belady, LRU and the perfect prefetcher are filled in by `PrefetchBench`, which runs those
/// yardsticks on the same trace.
public struct PolicyResult: Codable, Sendable, Equatable {
    public var policy: String
    public var cacheBytes: Int
    public var reads: Int
    public var writes: Int
    /// Reads that found the item cached (arrived or still arriving): no demand fetch was made.
    public var hits: Int
    /// Hits on items still in flight (prefetched or demanded by another job too late).
    public var lateHits: Int
    public var hitRatio: Double
    public var byteHitRatio: Double
    public var prefetchedItems: Int
    /// Prefetched items read before they were evicted.
    public var prefetchUsed: Int
    public var prefetchAccuracy: Double
    /// Prefetched bytes evicted unread, plus those still unread at the end.
    public var wastedBytes: Int
    /// Sum over jobs of the time readers waited for data, in seconds.
    public var stallSeconds: Double
    public var demandBytes: Int
    public var prefetchBytes: Int
    /// Wall time inside the policy's calls per access, in nanoseconds (the clock's own cost removed).
    public var policyNsPerAccess: Double
    /// Most bytes ever cached or in flight; never above `cacheBytes` (the simulator checks).
    public var peakBytes: Int
    /// Times the cached-plus-in-flight bytes exceeded `cacheBytes` (always 0 unless the simulator is wrong).
    public var budgetViolations: Int
    /// Victims the policy named that were not cached (a policy bug; the owner refused the newcomer).
    public var invalidVictims: Int
    public var hitVsBelady: Double?
    public var hitVsLRU: Double?
    public var stallVsPerfect: Double?

    public init(policy: String, cacheBytes: Int) {
        self.policy = policy
        self.cacheBytes = cacheBytes
        reads = 0; writes = 0; hits = 0; lateHits = 0; hitRatio = 0; byteHitRatio = 0
        prefetchedItems = 0; prefetchUsed = 0; prefetchAccuracy = 0; wastedBytes = 0
        stallSeconds = 0; demandBytes = 0; prefetchBytes = 0; policyNsPerAccess = 0
        peakBytes = 0; budgetViolations = 0; invalidVictims = 0
    }
}
