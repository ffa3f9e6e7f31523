/// Least recently used: the baseline every cache is compared with. Admits everything (demand and
/// writes), evicts the item accessed longest ago, never prefetches. O(1) per call.
public final class LRUPolicy: CachePolicy {
    public let name = "lru"
    private var order = RecencyList()

    public init() {}

    public func accessed(_ access: Access, cached: Bool) {
        if cached { order.touch(access.item) }
    }

    public func admit(_ item: Int, size: Int, reason: AdmitReason, full: Bool) -> Bool { true }

    public func victim() -> Int? { order.leastRecent }

    public func inserted(_ item: Int, size: Int, reason: AdmitReason) { order.touch(item) }

    public func removed(_ item: Int) { order.remove(item) }
}
