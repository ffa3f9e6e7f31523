#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
/// Cost: O(1) per call when a job's window slides by the reads it consumed (the data-loader
/// case; O(window) otherwise), except `prefetchCandidates`, which resumes where the previous call
/// found the windows cached.
public final class HintedPolicy: CachePolicy {
    public let name = "hinted"
    /// Cached items that no window needs, least recently used first: the eviction order.
    private var unneeded = RecencyList()
    private var isCached: [Bool] = []
    /// How many jobs' windows hold each item (unconsumed).
    private var windowsHolding: [Int32] = []

    private struct Window {
        var items: [Int] = []
        /// Sequence number of `items[0]` among all reads this job has announced.
        var base = 0
        /// Index in `items` of the first read not yet consumed.
        var offset = 0
        /// Per item: sequence number of its first unconsumed occurrence, or -1.
        var position: [Int] = []
        /// Per item: unconsumed occurrences (sampling with replacement repeats items).
        var occurrences: [Int32] = []
        /// Entries from `offset` on known to be cached, so candidate scans resume there.
        var covered = 0
        var remaining: Int { items.count - offset }
    }
    private var windows: [Window] = []
    private var pendingNeed: Int?

    public init() {}

    private func ensure(item: Int) {
        guard item >= isCached.count else { return }
        let n = max(item + 1, 2 * isCached.count)
        isCached.append(contentsOf: repeatElement(false, count: n - isCached.count))
        windowsHolding.append(contentsOf: repeatElement(0, count: n - windowsHolding.count))
    }

    private func ensure(job: Int, item: Int) {
        ensure(item: item)
        while windows.count <= job { windows.append(Window()) }
        if item >= windows[job].position.count {
            let n = max(item + 1, 2 * windows[job].position.count)
            windows[job].position.append(contentsOf: repeatElement(-1, count: n - windows[job].position.count))
            windows[job].occurrences.append(contentsOf: repeatElement(0, count: n - windows[job].occurrences.count))
        }
    }

    /// How many reads from now some job needs `item` (0 = next), or nil if no window has it.
    private func need(_ item: Int) -> Int? {
        guard item < windowsHolding.count, windowsHolding[item] > 0 else { return nil }
        var best = Int.max
        for w in windows where item < w.position.count && w.position[item] >= 0 {
            best = min(best, w.position[item] - w.base - w.offset)
        }
        return best
    }

    /// `item` entered (+1) or left (−1) one job's window.
    private func holding(_ item: Int, _ delta: Int32) {
        let before = windowsHolding[item]
        windowsHolding[item] += delta
        guard isCached[item] else { return }
        if before == 0 && delta > 0 { unneeded.remove(item) }
        if windowsHolding[item] == 0 && before > 0 { unneeded.touch(item) }
    }

    public func hint(_ upcoming: [Int], job: Int) {
        let largest = upcoming.withUnsafeBufferPointer { b in
            var m = 0
            for k in 0..<b.count where b[k] > m { m = b[k] }
            return m
        }
        ensure(job: job, item: largest)
        var w = windows[job]
        windows[job] = Window()  // keep `w` uniquely referenced while it is edited
        let kept = w.remaining
        let slid = kept <= upcoming.count && Self.same(w.items, from: w.offset, upcoming, count: kept)
        if slid {
            // The loader consumed reads and announced more: only the new tail is new.
            w.base += w.offset
            for p in kept..<upcoming.count {
                let item = upcoming[p]
                w.occurrences[item] += 1
                if w.position[item] < 0 {
                    w.position[item] = w.base + p
                    holding(item, 1)
                }
            }
        } else {
            for item in w.items[w.offset...] {
                w.occurrences[item] = 0
                if w.position[item] >= 0 {
                    w.position[item] = -1
                    holding(item, -1)
                }
            }
            w.base += w.items.count
            w.covered = 0
            for (p, item) in upcoming.enumerated() {
                w.occurrences[item] += 1
                if w.position[item] < 0 {
                    w.position[item] = w.base + p
                    holding(item, 1)
                }
            }
        }
        w.items = upcoming
        w.offset = 0
        windows[job] = w
    }

    /// Whether `a[from..<from+count]` equals `b[0..<count]` (memcmp: this runs on every read).
    private static func same(_ a: [Int], from: Int, _ b: [Int], count: Int) -> Bool {
        guard count > 0 else { return true }
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                guard let x = pa.baseAddress, let y = pb.baseAddress else { return false }
                return memcmp(x + from, y, count * MemoryLayout<Int>.stride) == 0
            }
        }
    }

    private static func index(of item: Int, in a: [Int], from: Int) -> Int? {
        a.withUnsafeBufferPointer { b in
            var k = from
            while k < b.count {
                if b[k] == item { return k }
                k += 1
            }
            return nil
        }
    }

    public func accessed(_ access: Access, cached: Bool) {
        pendingNeed = nil
        let j = access.job, i = access.item
        if j < windows.count, windows[j].offset < windows[j].items.count, windows[j].items[windows[j].offset] == i {
            // The job consumed the head of its window; the item's need moves to its next occurrence.
            var w = windows[j]
            windows[j] = Window()
            w.offset += 1
            w.covered = max(0, w.covered - 1)
            w.occurrences[i] -= 1
            if w.occurrences[i] > 0, let next = Self.index(of: i, in: w.items, from: w.offset) {
                w.position[i] = w.base + next
            } else {
                w.position[i] = -1
                holding(i, -1)
            }
            windows[j] = w
        }
        if cached, i < windowsHolding.count, windowsHolding[i] == 0 { unneeded.touch(i) }
    }

    public func admit(_ item: Int, size: Int, reason: AdmitReason, full: Bool) -> Bool {
        guard full, windows.contains(where: { $0.remaining > 0 }) else { return true }
        guard let n = need(item) else { return false }
        if let v = victim(), let vn = need(v), vn <= n { return false }
        pendingNeed = n
        return true
    }

    public func victim() -> Int? {
        if let item = unneeded.leastRecent { return item }
        // Every cached item is needed: evict the one needed latest. Scanning each window from its
        // end, an item can be needed no later than its place in that window, so the scan stops
        // once that place is no later than the best found.
        var latest: (item: Int, need: Int)?
        for w in windows {
            var p = w.items.count - 1
            while p >= w.offset, p - w.offset > (latest?.need ?? -1) {
                let item = w.items[p]
                if isCached[item], let n = need(item), n > (latest?.need ?? -1) { latest = (item, n) }
                p -= 1
            }
        }
        guard let latest else { return nil }
        if let p = pendingNeed, latest.need <= p { return nil }
        return latest.item
    }

    public func inserted(_ item: Int, size: Int, reason: AdmitReason) {
        ensure(item: item)
        pendingNeed = nil
        isCached[item] = true
        if windowsHolding[item] == 0 { unneeded.touch(item) }
    }

    public func removed(_ item: Int) {
        guard item < isCached.count, isCached[item] else { return }
        isCached[item] = false
        unneeded.remove(item)
        // A needed item left: windows that had it covered must be scanned again from there.
        for j in windows.indices where item < windows[j].position.count && windows[j].position[item] >= 0 {
            let rel = windows[j].position[item] - windows[j].base - windows[j].offset
            windows[j].covered = min(windows[j].covered, max(0, rel))
        }
    }

    public func prefetchCandidates(limit: Int) -> [Int] {
        var longest = 0, start = Int.max
        for w in windows {
            longest = max(longest, w.remaining)
            start = min(start, w.covered)
        }
        guard limit > 0, longest > 0 else { return [] }
        let victimNeed = victim().flatMap(need) ?? .max
        let end = min(longest, victimNeed)
        guard start < end else { return [] }
        var out: [Int] = []
        var open = [Bool](repeating: true, count: windows.count)
        for d in start..<end {
            for j in windows.indices where d < windows[j].remaining && d >= windows[j].covered {
                let item = windows[j].items[windows[j].offset + d]
                if isCached[item] {
                    if open[j] { windows[j].covered = d + 1 }
                    continue
                }
                open[j] = false
                if !out.contains(item) {
                    out.append(item)
                    if out.count == limit { return out }
                }
            }
        }
        return out
    }
}
