/// What a client cache has done since it opened: hits by tier, misses, prefetch outcomes, and
/// what it holds now. `granary cache status` prints it; clients write it beside the disk tier.
public struct CacheStats: Sendable, Codable, Equatable {
    public var policy = ""
    public var accesses = 0
    public var memoryHits = 0
    public var diskHits = 0
    /// Reads that found their item being prefetched and waited for it.
    public var lateHits = 0
    public var misses = 0
    public var prefetchIssued = 0
    /// Prefetched items read before they left the cache.
    public var prefetchUsed = 0
    /// Prefetched items evicted unread.
    public var prefetchWasted = 0
    public var prefetchFailed = 0
    public var demandBytes = 0
    public var prefetchBytes = 0
    public var memoryEntries = 0
    public var memoryBytes = 0
    public var memoryCapacity = 0
    /// The most the memory tier ever held (entries plus fetches under way); never above capacity.
    public var memoryPeakBytes = 0
    public var diskEntries = 0
    public var diskBytes = 0
    public var diskLimit = 0
    /// Disk entries found truncated or corrupt and dropped.
    public var diskDropped = 0
    /// Mean time spent inside the policy per access.
    public var policyNanosPerAccess = 0.0
    /// Seconds readers spent waiting for data that was not in memory.
    public var stallSeconds = 0.0

    public init() {}

    /// Reads served without waiting on a demand fetch: from memory, from disk, or from a prefetch
    /// already under way.
    public var hitRatio: Double { accesses == 0 ? 0 : Double(memoryHits + diskHits + lateHits) / Double(accesses) }
    /// Prefetched items that were used, of those fetched.
    public var prefetchAccuracy: Double { prefetchIssued == 0 ? 0 : Double(prefetchUsed) / Double(prefetchIssued) }
}
