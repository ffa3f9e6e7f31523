/// Least frequently used with plain (undecayed) counts over the whole history — cached or not —
/// and ties broken by recency. The baseline for skewed, importance-sampled workloads; its lack of
/// decay is what makes it slow to follow drifting popularity. Admits everything (demand and
/// writes), never prefetches. O(log n) per call.
public final class LFUPolicy: CachePolicy {
    public let name = "lfu"
    private var counts: [Int] = []
    private var lastUse: [Double] = []
    private var tick = 0.0
    private var cachedItems = ItemHeap()

    public init() {}

    public func accessed(_ access: Access, cached: Bool) {
        let i = access.item
        if i >= counts.count {
            let n = max(i + 1, counts.count * 2)
            counts.append(contentsOf: repeatElement(0, count: n - counts.count))
            lastUse.append(contentsOf: repeatElement(0, count: n - lastUse.count))
        }
        tick += 1
        counts[i] += 1
        lastUse[i] = tick
        if cachedItems.contains(i) { cachedItems.set(i, key: Double(counts[i]), tie: tick) }
    }

    public func admit(_ item: Int, size: Int, reason: AdmitReason, full: Bool) -> Bool { true }

    public func victim() -> Int? { cachedItems.min().map { Int($0.item) } }

    public func inserted(_ item: Int, size: Int, reason: AdmitReason) {
        let c = item < counts.count ? counts[item] : 0
        let t = item < lastUse.count ? lastUse[item] : tick
        cachedItems.set(item, key: Double(c), tie: t)
    }

    public func removed(_ item: Int) { cachedItems.remove(item) }
}
