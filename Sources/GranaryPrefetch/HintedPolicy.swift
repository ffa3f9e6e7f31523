/// The policy for clients that say what they will read: a data loader knows its sampler's order,
/// so before each batch it calls `hint(upcoming, job:)` with the job's exact next reads.
///
/// Eviction drops a cached item that no job's window needs (the least recently used of those);
/// only when every cached item is needed does it drop the one needed latest. When full it admits
/// only items some window needs, sooner than that victim. `prefetchCandidates` returns the
/// uncached items of the windows in order of need (position in window, jobs interleaved), each
/// needed before the current victim — so prefetching never evicts something needed earlier.
/// Without any hint it is exactly LRU.
///
/// Cost: O(window) per `hint`; `victim` walks at most (total window length + 1) LRU entries.
public final class HintedPolicy: CachePolicy {
    public let name = "hinted"
    private var order = RecencyList()
    private var windows: [[Int]] = []
    /// Per job, the index in its window of the first read not yet consumed.
    private var offsets: [Int] = []
    /// Per job, per item: index of the item's first unconsumed occurrence in the window, or -1.
    private var position: [[Int32]] = []
    private var windowTotal = 0
    private var pendingNeed: Int?

    public init() {}

    private func ensure(job: Int, item: Int) {
        while windows.count <= job {
            windows.append([])
            offsets.append(0)
            position.append([])
        }
        if item >= position[job].count {
            let n = max(item + 1, position[job].count * 2)
            position[job].append(contentsOf: repeatElement(-1, count: n - position[job].count))
        }
    }

    /// How many reads from now some job needs `item` (0 = next), or nil if no window has it.
    private func need(_ item: Int) -> Int? {
        var best: Int?
        for j in 0..<windows.count where item < position[j].count {
            let p = Int(position[j][item])
            if p >= 0 { best = min(best ?? .max, p - offsets[j]) }
        }
        return best
    }

    public func hint(_ upcoming: [Int], job: Int) {
        ensure(job: job, item: upcoming.max() ?? 0)
        for item in windows[job] where item < position[job].count { position[job][item] = -1 }
        windowTotal += upcoming.count - (windows[job].count - offsets[job])
        for (p, item) in upcoming.enumerated() where item >= 0 && position[job][item] < 0 {
            position[job][item] = Int32(p)
        }
        windows[job] = upcoming
        offsets[job] = 0
    }

    public func accessed(_ access: Access, cached: Bool) {
        pendingNeed = nil
        let j = access.job, i = access.item
        if j < windows.count, offsets[j] < windows[j].count, windows[j][offsets[j]] == i {
            // The job consumed the head of its window; the item's need moves to its next occurrence.
            offsets[j] += 1
            windowTotal -= 1
            position[j][i] = -1
            if let next = windows[j][offsets[j]...].firstIndex(of: i) { position[j][i] = Int32(next) }
        }
        if cached { order.touch(i) }
    }

    public func admit(_ item: Int, size: Int, reason: AdmitReason, full: Bool) -> Bool {
        guard full, windowTotal > 0 else { return true }
        guard let n = need(item) else { return false }
        if let v = victim(), let vn = need(v), vn <= n { return false }
        pendingNeed = n
        return true
    }

    public func victim() -> Int? {
        var steps = 0
        var node = order.leastRecent
        while let item = node, steps <= windowTotal {
            if need(item) == nil { return item }
            node = order.newer(than: item)
            steps += 1
        }
        // Every cached item near the LRU end is needed: evict the one needed latest.
        var latest: (item: Int, need: Int)?
        for j in 0..<windows.count {
            for p in offsets[j]..<windows[j].count {
                let item = windows[j][p]
                guard order.contains(item), let n = need(item), n > (latest?.need ?? -1) else { continue }
                latest = (item, n)
            }
        }
        guard let latest else { return order.leastRecent }
        if let p = pendingNeed, latest.need <= p { return nil }
        return latest.item
    }

    public func inserted(_ item: Int, size: Int, reason: AdmitReason) {
        pendingNeed = nil
        order.touch(item)
    }

    public func removed(_ item: Int) { order.remove(item) }

    public func prefetchCandidates(limit: Int) -> [Int] {
        guard windowTotal > 0, limit > 0 else { return [] }
        let victimNeed = victim().flatMap(need) ?? .max
        var out: [Int] = []
        let longest = windows.indices.map { windows[$0].count - offsets[$0] }.max() ?? 0
        for d in 0..<min(longest, victimNeed) {
            for j in 0..<windows.count where offsets[j] + d < windows[j].count {
                let item = windows[j][offsets[j] + d]
                if !order.contains(item), !out.contains(item) {
                    out.append(item)
                    if out.count == limit { return out }
                }
            }
        }
        return out
    }
}
