#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Replays a trace against one `CachePolicy` with a cache of a given size behind a modelled
/// link, the way the client cache drives its policy, and measures what the policy achieved.
///
/// The model:
/// - The trace's `t` is when a never-stalled application would issue each access. Each job
///   accumulates its own stall, so access i of job j is issued at T = tᵢ + stallⱼ. Accesses are
///   processed in trace order; the policy sees `Access.time` = the running maximum of T.
/// - The link is one FIFO pipe of `bandwidth` bytes/s and `latency` s: a fetch issued at T starts
///   at max(T, linkFree), occupies the pipe for size/bandwidth, and arrives `latency` later.
/// - A read of an arrived cached item is a hit; of a cached item still in flight, a (late) hit
///   that stalls until arrival; otherwise a miss: a demand fetch, a stall until it arrives, then
///   `admit(.demand)` and evictions. Writes never stall and use no read bandwidth; they are
///   offered with `.write` (write-through) and are left out of hit ratios.
/// - Prefetch: after each access (and once before the first), while `linkFree ≤ T + lookahead`
///   the policy's candidates are fetched, `prefetchBatch` at a time, each admitted with
///   `.prefetch` and made room for by evicting the policy's victims; a candidate already cached
///   is never refetched, and the round ends at a refusal or a short batch. lookahead = 2 × latency + the trace's mean gap between reads:
///   enough to cover one request's round trip plus the next read, so a prefetcher keeps the pipe
///   busy without queueing so far ahead that a demand fetch waits behind speculative work.
/// - With `hintWindow`, the simulator acts as the data loader: before each read of job j (and
///   for every job at the start) it calls `hint(next W reads of j, job: j)`.
///
/// Guarantees: cached plus in-flight bytes never exceed `cacheBytes`; every eviction and
/// insertion is reported to the policy; the counters in `PolicyResult` are exact for the model.
public final class TraceSimulator {
    /// One replay's cache size, link, and whether prefetching and hints are on.
    public struct Options: Sendable {
        public var cacheBytes: Int
        public var bandwidth: Double
        public var latency: Double
        public var prefetch: Bool
        /// Feed hints of this many upcoming reads (nil: no hints).
        public var hintWindow: Int?
        /// Candidates asked for at a time; the round continues while whole batches are fetched.
        public var prefetchBatch: Int

        public init(cacheBytes: Int, bandwidth: Double = 1e9, latency: Double = 0.002,
                    prefetch: Bool = true, hintWindow: Int? = nil, prefetchBatch: Int = 4) {
            self.cacheBytes = cacheBytes
            self.bandwidth = bandwidth
            self.latency = latency
            self.prefetch = prefetch
            self.hintWindow = hintWindow
            self.prefetchBatch = prefetchBatch
        }
    }

    /// Every key of the trace, interned in order of first appearance (the "listing").
    public let keys: KeyTable
    /// The trace as accesses; `time` is the trace's `t`.
    public let accesses: [Access]
    /// Item ids of the reads, in order (what `BeladyPolicy` needs).
    public let readSequence: [Int]
    /// Bytes of the distinct items read.
    public let distinctReadBytes: Int
    /// Mean time between consecutive reads in the trace.
    public let meanReadGap: Double
    private let jobReads: [[Int]]
    private let readIndexInJob: [Int]

    public init(records: [TraceRecord]) {
        let keys = KeyTable()
        var accesses: [Access] = []
        accesses.reserveCapacity(records.count)
        var reads: [Int] = []
        var jobReads: [[Int]] = []
        var readIndexInJob: [Int] = []
        for r in records {
            let item = keys.intern(r.key, size: r.size)
            let job = keys.job(r.job)
            while jobReads.count <= job { jobReads.append([]) }
            accesses.append(Access(time: r.t, job: job, item: item, size: r.size, isWrite: r.isWrite))
            if r.isWrite {
                readIndexInJob.append(-1)
            } else {
                readIndexInJob.append(jobReads[job].count)
                jobReads[job].append(item)
                reads.append(item)
            }
        }
        var seen = [Bool](repeating: false, count: keys.count)
        var bytes = 0
        for i in reads where !seen[i] {
            seen[i] = true
            bytes += keys[i].size
        }
        let readTimes = accesses.filter { !$0.isWrite }.map(\.time)
        self.keys = keys
        self.accesses = accesses
        self.readSequence = reads
        self.jobReads = jobReads
        self.readIndexInJob = readIndexInJob
        self.distinctReadBytes = bytes
        self.meanReadGap = readTimes.count > 1 ? ((readTimes.last ?? 0) - (readTimes.first ?? 0)) / Double(readTimes.count - 1) : 0
    }

    /// How far ahead of an access the pipe may be booked with prefetches.
    public func lookahead(latency: Double) -> Double { 2 * latency + meanReadGap }

    /// Replays the trace against `policy`.
    public func run(_ policy: any CachePolicy, options: Options) -> PolicyResult {
        let replay = Replay(sim: self, policy: policy, options: options)
        return replay.run()
    }

    /// The stall of a perfect prefetcher: it knows every future read, has unlimited memory, and
    /// fetches each distinct item once, in order of first need, back to back from the trace's
    /// first instant. No online policy can stall less on this link.
    public func perfectPrefetcherStall(bandwidth: Double, latency: Double) -> Double {
        var stall = [Double](repeating: 0, count: jobReads.count)
        var arrival = [Double](repeating: -1, count: keys.count)
        var linkFree = accesses.first?.time ?? 0
        var total = 0.0
        for a in accesses where !a.isWrite {
            let issued = a.time + stall[a.job]
            if arrival[a.item] < 0 {
                linkFree += Double(a.size) / bandwidth
                arrival[a.item] = linkFree + latency
            }
            let wait = max(0, arrival[a.item] - issued)
            stall[a.job] += wait
            total += wait
        }
        return total
    }

    /// The next `window` reads of `job` from its `index`-th read on.
    fileprivate func upcoming(job: Int, from index: Int, window: Int) -> [Int] {
        let reads = jobReads[job]
        guard index < reads.count else { return [] }
        return Array(reads[index..<min(reads.count, index + window)])
    }

    fileprivate var jobCount: Int { jobReads.count }
    fileprivate func readIndex(_ access: Int) -> Int { readIndexInJob[access] }
}

/// The mutable state of one replay.
private final class Replay {
    let sim: TraceSimulator
    let policy: any CachePolicy
    let options: Options
    typealias Options = TraceSimulator.Options

    var cached: [Bool]
    var arrival: [Double]
    var cachedSize: [Int]
    var prefetchedUnread: [Bool]
    var stall: [Double]
    var used = 0
    var linkFree: Double
    var clock: Double
    var policyNanos: UInt64 = 0
    var result: PolicyResult
    var readBytes = 0
    var hitBytes = 0

    init(sim: TraceSimulator, policy: any CachePolicy, options: Options) {
        self.sim = sim
        self.policy = policy
        self.options = options
        let n = sim.keys.count
        cached = [Bool](repeating: false, count: n)
        arrival = [Double](repeating: 0, count: n)
        cachedSize = [Int](repeating: 0, count: n)
        prefetchedUnread = [Bool](repeating: false, count: n)
        stall = [Double](repeating: 0, count: sim.jobCount)
        linkFree = sim.accesses.first?.time ?? 0
        clock = linkFree
        result = PolicyResult(policy: policy.name, cacheBytes: options.cacheBytes)
    }

    var timedCalls = 0

    @inline(__always) func timed<T>(_ body: () -> T) -> T {
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_MONOTONIC, &a)
        let r = body()
        clock_gettime(CLOCK_MONOTONIC, &b)
        policyNanos &+= UInt64((b.tv_sec - a.tv_sec) * 1_000_000_000 + (b.tv_nsec - a.tv_nsec))
        timedCalls += 1
        return r
    }

    /// What `timed` itself costs per call (the least of a few batches of empty calls), so the
    /// reported policy cost is the policy's, not the clock's.
    func clockOverhead() -> Double {
        var best = Double.infinity
        for _ in 0..<5 {
            let before = policyNanos
            for _ in 0..<2000 { timed { () } }
            best = min(best, Double(policyNanos - before) / 2000)
            policyNanos = before
        }
        timedCalls = 0
        return best
    }

    func run() -> PolicyResult {
        let overhead = clockOverhead()
        let lookahead = sim.lookahead(latency: options.latency)
        if let w = options.hintWindow {
            for j in 0..<sim.jobCount {
                let hint = sim.upcoming(job: j, from: 0, window: w)
                timed { policy.hint(hint, job: j) }
            }
        }
        if options.prefetch { prefetch(at: clock, lookahead: lookahead) }
        for (index, a) in sim.accesses.enumerated() {
            let issued = a.time + stall[a.job]
            clock = max(clock, issued)
            let access = Access(time: clock, job: a.job, item: a.item, size: a.size, isWrite: a.isWrite)
            let i = a.item
            let wasCached = cached[i]
            if a.isWrite {
                result.writes += 1
                if wasCached, cachedSize[i] != a.size { evict(i) }
                timed { policy.accessed(access, cached: wasCached) }
                if !cached[i] { offer(i, size: a.size, reason: .write, arrival: issued) }
            } else {
                if let w = options.hintWindow {
                    let hint = sim.upcoming(job: a.job, from: sim.readIndex(index), window: w)
                    timed { policy.hint(hint, job: a.job) }
                }
                result.reads += 1
                readBytes += a.size
                var wait = 0.0
                if wasCached {
                    result.hits += 1
                    hitBytes += a.size
                    if arrival[i] > issued {
                        wait = arrival[i] - issued
                        result.lateHits += 1
                    }
                    if prefetchedUnread[i] {
                        prefetchedUnread[i] = false
                        result.prefetchUsed += 1
                    }
                } else {
                    let arrives = fetch(a.size, at: issued)
                    result.demandBytes += a.size
                    wait = arrives - issued
                    timed { policy.accessed(access, cached: false) }
                    offer(i, size: a.size, reason: .demand, arrival: arrives)
                }
                if wasCached { timed { policy.accessed(access, cached: true) } }
                stall[a.job] += wait
                result.stallSeconds += wait
            }
            if options.prefetch { prefetch(at: issued, lookahead: lookahead) }
        }
        for i in 0..<cached.count where cached[i] && prefetchedUnread[i] { result.wastedBytes += cachedSize[i] }
        let accesses = max(1, sim.accesses.count)
        result.hitRatio = result.reads > 0 ? Double(result.hits) / Double(result.reads) : 0
        result.byteHitRatio = readBytes > 0 ? Double(hitBytes) / Double(readBytes) : 0
        result.prefetchAccuracy = result.prefetchedItems > 0 ? Double(result.prefetchUsed) / Double(result.prefetchedItems) : 0
        result.policyNsPerAccess = max(0, Double(policyNanos) - overhead * Double(timedCalls)) / Double(accesses)
        return result
    }

    /// Books the pipe for `size` bytes requested at `time`; returns the arrival time.
    func fetch(_ size: Int, at time: Double) -> Double {
        let start = max(time, linkFree)
        linkFree = start + Double(size) / options.bandwidth
        return linkFree + options.latency
    }

    /// Asks the policy to keep `i`, making room with its victims; false if it is not kept.
    @discardableResult
    func offer(_ i: Int, size: Int, reason: AdmitReason, arrival when: Double) -> Bool {
        guard size <= options.cacheBytes else { return false }
        let full = used + size > options.cacheBytes
        guard timed({ policy.admit(i, size: size, reason: reason, full: full) }) else { return false }
        while used + size > options.cacheBytes {
            guard let v = timed({ policy.victim() }) else { return false }
            guard v >= 0, v < cached.count, cached[v], v != i else {
                result.invalidVictims += 1
                return false
            }
            evict(v)
        }
        cached[i] = true
        cachedSize[i] = size
        arrival[i] = when
        used += size
        result.peakBytes = max(result.peakBytes, used)
        if used > options.cacheBytes { result.budgetViolations += 1 }
        assert(used <= options.cacheBytes, "cache budget exceeded")
        timed { policy.inserted(i, size: size, reason: reason) }
        return true
    }

    func evict(_ v: Int) {
        cached[v] = false
        used -= cachedSize[v]
        if prefetchedUnread[v] {
            prefetchedUnread[v] = false
            result.wastedBytes += cachedSize[v]
        }
        timed { policy.removed(v) }
    }

    func prefetch(at time: Double, lookahead: Double) {
        while linkFree <= time + lookahead {
            let batch = timed { policy.prefetchCandidates(limit: options.prefetchBatch) }
            if batch.isEmpty { return }
            var issued = 0
            for c in batch {
                guard linkFree <= time + lookahead else { return }
                guard c >= 0, c < cached.count, !cached[c] else { continue }
                let size = sim.keys[c].size
                // Book the pipe only once the item is kept, so a refused candidate costs nothing.
                let start = max(time, linkFree)
                let arrives = start + Double(size) / options.bandwidth + options.latency
                guard offer(c, size: size, reason: .prefetch, arrival: arrives) else { return }
                linkFree = start + Double(size) / options.bandwidth
                prefetchedUnread[c] = true
                result.prefetchedItems += 1
                result.prefetchBytes += size
                issued += 1
            }
            // A short batch means the policy has nothing more worth fetching right now.
            if issued < options.prefetchBatch { return }
        }
    }
}
