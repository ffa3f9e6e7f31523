/// Belady's offline optimum (MIN) for demand fetching: knows the whole future read sequence and
/// evicts the cached item whose next read is farthest away (never read again = infinitely far);
/// when full it admits a newcomer only if the newcomer is read again before that victim (optimal
/// bypass). It is the yardstick for hit ratios. Never prefetches — so a policy that prefetches
/// with idle link bandwidth can legitimately score above it.
///
/// With equal sizes this is optimal for hit count; with mixed sizes it is the standard
/// approximation. `accessed` must see the reads in the order of `future` (writes are ignored);
/// if the owner diverges, next-use positions are still found by position, so it degrades rather
/// than fails. O(log n) per call; O(reads) precomputation.
public final class BeladyPolicy: CachePolicy {
    public let name = "belady"
    /// Positions of each item's reads, grouped by item (compressed rows).
    private let positions: [Int32]
    private let rowStart: [Int]
    /// Index into `positions` of each item's next read.
    private var next: [Int]
    private var cursor = 0
    private var cachedItems = ItemHeap()
    private var pendingKey: Double?

    /// `future`: the item ids of every read, in order.
    public init(future: [Int]) {
        let n = (future.max() ?? -1) + 1
        var counts = [Int](repeating: 0, count: n + 1)
        for item in future where item >= 0 { counts[item + 1] += 1 }
        for k in 0..<n { counts[k + 1] += counts[k] }
        rowStart = counts
        var fill = counts
        var pos = [Int32](repeating: 0, count: future.count)
        for (p, item) in future.enumerated() where item >= 0 {
            pos[fill[item]] = Int32(p)
            fill[item] += 1
        }
        positions = pos
        next = Array(counts.dropLast())
    }

    /// Position of `item`'s next read at or after the cursor; infinity if none.
    private func nextUse(_ item: Int) -> Double {
        guard item < next.count, next[item] < rowStart[item + 1] else { return .infinity }
        return Double(positions[next[item]])
    }

    public func accessed(_ access: Access, cached: Bool) {
        pendingKey = nil
        guard !access.isWrite else { return }
        let i = access.item
        if i < next.count {
            while next[i] < rowStart[i + 1], Int(positions[next[i]]) <= cursor { next[i] += 1 }
        }
        cursor += 1
        if cached { cachedItems.set(i, key: nextUse(i)) }
    }

    public func admit(_ item: Int, size: Int, reason: AdmitReason, full: Bool) -> Bool {
        guard full else { return true }
        let key = nextUse(item)
        guard let top = cachedItems.max(), key < top.key else { return false }
        pendingKey = key
        return true
    }

    /// Nil once the farthest cached item is needed sooner than the newcomer being admitted.
    public func victim() -> Int? {
        guard let top = cachedItems.max() else { return nil }
        if let p = pendingKey, top.key <= p { return nil }
        return Int(top.item)
    }

    public func inserted(_ item: Int, size: Int, reason: AdmitReason) {
        pendingKey = nil
        cachedItems.set(item, key: nextUse(item))
    }

    public func removed(_ item: Int) { cachedItems.remove(item) }
}
