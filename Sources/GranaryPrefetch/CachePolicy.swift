/// Decides what a cache keeps, evicts and fetches ahead: LRU, LFU, a static pinned subset, the
/// learned policy, and Belady's offline optimum all implement it, so the trace simulator and the
/// client's cache drive every policy the same way.
///
/// The owner (the simulator or the client cache) holds the bytes and the accounting; the policy
/// only decides. Calls come in this order for each access: `accessed` (hit or miss); on a miss the
/// owner fetches, asks `admit`, and if admitted evicts `victim()`s until it fits, calling `removed`
/// for each and `inserted` for the new item. Between accesses the owner may ask
/// `prefetchCandidates` and fetch some of them the same way (`admit` with `.prefetch`).
///
/// Not thread-safe: the owner serialises every call.
public protocol CachePolicy: AnyObject {
    /// Short name for reports: "lru", "lfu", "pinned", "learned", "belady", "hinted".
    var name: String { get }

    /// Records an access; `cached` says whether the item was in the cache when it came.
    func accessed(_ access: Access, cached: Bool)

    /// Whether to keep `item` (not cached; just fetched on a miss, a prefetch candidate, or just
    /// written). `full` says whether keeping it needs an eviction first.
    func admit(_ item: Int, size: Int, reason: AdmitReason, full: Bool) -> Bool

    /// The cached item to evict next, or nil to evict nothing (the owner then refuses the newcomer).
    func victim() -> Int?

    /// The owner put `item` in the cache.
    func inserted(_ item: Int, size: Int, reason: AdmitReason)

    /// The owner dropped `item` from the cache (evicted, invalidated, or found corrupt).
    func removed(_ item: Int)

    /// Up to `limit` uncached items worth fetching now, the soonest needed first; every one must be
    /// worth evicting the current victim for. Empty for policies that do not prefetch.
    func prefetchCandidates(limit: Int) -> [Int]

    /// The exact upcoming reads of `job`, in order, starting now (a data loader's hint); replaces
    /// what the same job said before. Policies without hint support ignore it.
    func hint(_ upcoming: [Int], job: Int)
}

extension CachePolicy {
    public func prefetchCandidates(limit: Int) -> [Int] { [] }
    public func hint(_ upcoming: [Int], job: Int) {}
}

/// Why an item is offered to the cache.
public enum AdmitReason: Sendable, Hashable {
    /// Fetched because a reader asked for it and missed.
    case demand
    /// Fetched ahead of need.
    case prefetch
    /// Written through the client (a checkpoint, a new file).
    case write
}
