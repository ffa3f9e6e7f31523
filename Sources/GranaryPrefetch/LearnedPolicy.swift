#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The policy for clients that give no hints: it learns online, from the accesses alone (plus
/// the `KeyTable`'s listing of which keys exist, as a client knows a directory after readdir),
/// when each item will next be read, and runs an approximate Belady on those predictions.
///
/// Every item gets ONE predicted next-read time. It comes from a linear model of log(delay)
/// trained online by normalized LMS on the delays actually observed; its inputs are the log
/// delays proposed by three experts, centred on log(half-life), plus missing-expert flags:
/// - epoch: per job, passes over the data (a pass ends when the job re-reads an item of the
///   current pass); an item read in the current pass is next read in the next pass, one not yet
///   read is read in the rest of this one. Jobs combine as competing rates (a shared item is read
///   by whichever job comes first). The expert abstains for a job whose passes do not cover at
///   least half of what it can see — sampling with replacement is not epochs.
/// - frequency: an exponentially decayed read count (half-life: `halfLife`, by default the number
///   of listed items, about one pass) read as a rate; decay lets drifting popularity be followed.
/// - reuse: the item's last reuse interval.
/// Two gated specialists override the model where they know better: sequential streams
/// (`name#N` blocks read in order get readahead that doubles 2, 4, 8 … up to `maxReadahead`
/// and resets when the stream breaks), and groups whose members a job reads in a burst (when the
/// job starts such a group again, its unread members are predicted within the burst). Items first
/// seen by a write are predicted never to be read until written items are seen to be read.
///
/// Decisions: the victim is the cached item predicted farthest away; when full, a newcomer is
/// admitted only if predicted sooner than that victim; `prefetchCandidates` returns uncached
/// known items predicted soonest and well before the victim (by `prefetchMargin`), so a prefetch
/// never evicts something predicted to be needed earlier. Predictions that go overdue are
/// re-scored a few at a time (`rescoreBudget`), which also teaches the model a lower bound.
///
/// Time is the count of reads the policy has seen, not the owner's clock, so stalls and link
/// speed do not distort what it learns. Cost: O(jobs + log n) per call, amortised; the only
/// larger steps are the once-per-group listing and burst expansions.
public final class LearnedPolicy: CachePolicy {
    public struct Configuration: Sendable {
        /// Whether `prefetchCandidates` proposes anything ("learned-noprefetch" turns it off).
        public var prefetch: Bool
        /// Frequency half-life in reads; nil means the number of listed items (about one pass).
        public var halfLife: Double?
        public var maxReadahead: Int
        /// NLMS step size.
        public var learningRate: Double
        /// Overdue predictions re-scored per access (and twice that per prefetch call).
        public var rescoreBudget: Int
        /// A candidate must be predicted within this fraction of the victim's distance.
        public var prefetchMargin: Double

        public init(prefetch: Bool = true, halfLife: Double? = nil, maxReadahead: Int = 32,
                    learningRate: Double = 0.05, rescoreBudget: Int = 4, prefetchMargin: Double = 0.8) {
            self.prefetch = prefetch
            self.halfLife = halfLife
            self.maxReadahead = maxReadahead
            self.learningRate = learningRate
            self.rescoreBudget = rescoreBudget
            self.prefetchMargin = prefetchMargin
        }
    }

    public let name: String
    public let configuration: Configuration
    private let keys: KeyTable

    /// Model weights: bias, epoch, frequency, reuse, no-epoch, no-reuse, no-frequency, unused.
    public private(set) var weights: SIMD8<Double> = [0, 1, 0, 0, 0, 0, 0, 0]
    /// Delays observed and learned from.
    public private(set) var trainingExamples = 0
    /// Running mean of |log(predicted delay / actual delay)| over training examples.
    public private(set) var meanAbsLogError = 0.0

    private var now = 0.0

    // Per item.
    private var lastRead: [Double] = []
    private var lastInterval: [Double] = []
    private var freq: [Double] = []
    private var freqAt: [Double] = []
    private var predicted: [Double] = []
    private var scoredAt: [Double] = []
    private var snap: [SIMD8<Double>] = []
    private var snapAt: [Double] = []
    private var snapMu: [Double] = []
    private var writeTick: [Double] = []
    private var flags: [UInt8] = []
    private static let known: UInt8 = 1, cached: UInt8 = 2, everRead: UInt8 = 4, written: UInt8 = 8

    private var cachedItems = ItemHeap()
    private var candidates = ItemHeap()
    /// Key of the newcomer being admitted: `victim()` refuses to evict anything needed sooner.
    private var pendingKey: Double?

    private struct Job {
        var reads = 0
        var lastTick = 0.0
        var gap = 1.0
        var pass: Int32 = 0
        var passStart = 0.0
        var distinct = 0
        var lastPassLength = 0
        var lastPassDuration = 0.0
        var listed = 0
        var streamGroup = -1
        var streamOrdinal = -1
        var depth = 0
        var frontier = -1
    }
    private var jobs: [Job] = []
    private var passOf: [[Int32]] = []
    private var groupPass: [[Int32]] = []
    private var groupFirst: [[Double]] = []
    private var groupLast: [[Double]] = []
    private var groupSpan: [Double] = []
    private var groupListed: [Bool] = []
    private var listed = 0

    private var writtenItems = 0
    private var writtenThenRead = 0
    private var writeToReadLog = 0.0

    public init(keys: KeyTable, configuration: Configuration = .init(), name: String? = nil) {
        self.keys = keys
        self.configuration = configuration
        self.name = name ?? (configuration.prefetch ? "learned" : "learned-noprefetch")
    }

    // MARK: CachePolicy

    public func accessed(_ access: Access, cached: Bool) {
        pendingKey = nil
        let i = access.item
        ensure(item: i)
        if access.isWrite {
            wrote(i)
            return
        }
        now += 1
        let j = access.job
        ensure(job: j)
        if snapAt[i] >= 0 {
            learn(snap[i], target: log(max(now - snapAt[i], 0.5)) - snapMu[i], rate: configuration.learningRate)
            snapAt[i] = -1
        }
        if flags[i] & Self.written != 0, flags[i] & Self.everRead == 0 {
            writtenThenRead += 1
            writeToReadLog += (log(max(now - writeTick[i], 1)) - writeToReadLog) / Double(writtenThenRead)
        }
        flags[i] |= Self.everRead | Self.known

        var job = jobs[j]
        if job.reads > 0 { job.gap += 0.1 * (now - job.lastTick - job.gap) }
        job.lastTick = now
        job.reads += 1
        if passOf[j][i] == job.pass {
            job.lastPassLength = job.distinct
            job.lastPassDuration = now - job.passStart
            job.pass += 1
            job.passStart = now
            job.distinct = 0
        }
        passOf[j][i] = job.pass
        job.distinct += 1
        jobs[j] = job

        let h = halfLife
        freq[i] = freq[i] * exp2(-(now - freqAt[i]) / h) + 1
        freqAt[i] = now
        if lastRead[i] >= 0 { lastInterval[i] = now - lastRead[i] }
        lastRead[i] = now

        let item = keys.items[i]
        touch(group: item.group, job: j)
        setKey(i, score(i))
        if let ordinal = item.ordinal { followStream(job: j, group: item.group, ordinal: ordinal) }
        refreshOverdue()
    }

    public func admit(_ item: Int, size: Int, reason: AdmitReason, full: Bool) -> Bool {
        ensure(item: item)
        let key = predicted[item]
        guard key.isFinite else { return false }  // predicted never to be read: not worth any space
        guard full, let top = cachedItems.max() else { return true }
        guard key < top.key else { return false }
        pendingKey = key
        return true
    }

    public func victim() -> Int? {
        guard let top = cachedItems.max() else { return nil }
        if let p = pendingKey, top.key <= p { return nil }
        return Int(top.item)
    }

    public func inserted(_ item: Int, size: Int, reason: AdmitReason) {
        ensure(item: item)
        pendingKey = nil
        flags[item] |= Self.cached
        candidates.remove(item)
        cachedItems.set(item, key: predicted[item])
    }

    public func removed(_ item: Int) {
        guard item < flags.count else { return }
        flags[item] &= ~Self.cached
        cachedItems.remove(item)
        setKey(item, predicted[item])
    }

    public func prefetchCandidates(limit: Int) -> [Int] {
        guard configuration.prefetch, limit > 0 else { return [] }
        let victimKey = cachedItems.max()?.key ?? .infinity
        let bound = victimKey.isFinite ? now + configuration.prefetchMargin * (victimKey - now) : .infinity
        var out: [Int] = []
        var taken: [ItemHeap.Entry] = []
        var budget = 2 * configuration.rescoreBudget
        while out.count < limit, let e = candidates.takeMin() {
            let i = Int(e.item)
            if e.key < now, scoredAt[i] < now {
                // An overdue guess is stale evidence; look again before spending bandwidth on it.
                if budget > 0 {
                    budget -= 1
                    rescore(i)
                    continue
                }
                taken.append(e)
                break
            }
            taken.append(e)
            guard e.key < bound else { break }
            out.append(i)
        }
        for e in taken { candidates.restore(e) }
        return out
    }

    // MARK: Model

    private var halfLife: Double { configuration.halfLife ?? max(1024, Double(listed)) }

    private func learn(_ x: SIMD8<Double>, target: Double, rate: Double) {
        let error = target - (weights * x).sum()
        trainingExamples += 1
        meanAbsLogError += (abs(error) - meanAbsLogError) * 0.001
        let clipped = min(4, max(-4, error))
        weights += (rate * clipped / (1 + (x * x).sum())) * x
    }

    /// Features for `item` as of now; see the type's documentation.
    private func features(_ i: Int, mu: Double, maxLog: Double) -> SIMD8<Double> {
        let le = epochDelay(i).map { log($0) }
        let lf = frequencyDelay(i).map { log($0) }
        let lr = lastInterval[i] > 0 ? log(lastInterval[i]) : nil
        let base = le ?? lf ?? lr ?? maxLog
        return [1, (le ?? base) - mu, (lf ?? base) - mu, (lr ?? base) - mu,
                le == nil ? 1 : 0, lr == nil ? 1 : 0, lf == nil ? 1 : 0, 0]
    }

    /// Predicted absolute read time of `i`; remembers the features to learn from when it is read.
    private func score(_ i: Int) -> Double {
        let mu = log(halfLife)
        let maxLog = mu + log(64)
        let x = features(i, mu: mu, maxLog: maxLog)
        snap[i] = x
        snapAt[i] = now
        snapMu[i] = mu
        scoredAt[i] = now
        return now + exp(min(maxLog, max(0, (weights * x).sum() + mu)))
    }

    /// An overdue prediction: learn the lower bound it revealed, then predict afresh from now.
    private func rescore(_ i: Int) {
        if snapAt[i] >= 0 {
            let bound = log(now - snapAt[i]) - snapMu[i]
            if (weights * snap[i]).sum() < bound { learn(snap[i], target: bound, rate: configuration.learningRate / 2) }
        }
        setKey(i, flags[i] & Self.everRead == 0 && flags[i] & Self.written != 0 ? writeKey() : score(i))
    }

    /// Epoch expert: expected delay from now, combining jobs as competing rates; nil if no job
    /// has an opinion.
    private func epochDelay(_ i: Int) -> Double? {
        let g = keys.items[i].group
        var rate = 0.0
        for j in jobs.indices where jobs[j].reads > 0 {
            let job = jobs[j]
            let stamp = passOf[j][i]
            guard stamp >= 0 || (g < groupPass[j].count && groupPass[j][g] >= 0) else { continue }
            let length: Double, speed: Double
            if job.lastPassLength > 0 {
                guard 2 * job.lastPassLength >= job.listed else { continue }
                length = Double(max(job.lastPassLength, job.distinct))
                speed = Double(job.lastPassLength) / max(job.lastPassDuration, 1)
            } else {
                length = Double(max(job.distinct, job.listed))
                speed = Double(job.distinct) / max(now - job.passStart + 1, 1)
            }
            let remaining = max(length - Double(job.distinct), 1)
            let delay = stamp == job.pass ? (remaining + length / 2) / speed : (remaining + 1) / 2 / speed
            rate += 1 / max(delay, 1)
        }
        return rate > 0 ? 1 / rate : nil
    }

    private func frequencyDelay(_ i: Int) -> Double? {
        guard freq[i] > 0 else { return nil }
        let h = halfLife
        let count = freq[i] * exp2(-(now - freqAt[i]) / h)
        return h / (count * M_LN2)
    }

    private func writeKey() -> Double {
        // Checkpoints are written to survive a crash, rarely to be read back; believe otherwise
        // only once a tenth of written items have been seen read.
        guard 10 * writtenThenRead >= writtenItems + 10 else { return .infinity }
        return now + exp(writeToReadLog)
    }

    private func wrote(_ i: Int) {
        if flags[i] & (Self.everRead | Self.written) == 0 {
            flags[i] |= Self.written | Self.known
            writtenItems += 1
            writeTick[i] = now
            setKey(i, writeKey())
        }
    }

    // MARK: Specialists

    private func touch(group g: Int, job j: Int) {
        ensure(group: g)
        let members = keys.members[g]
        if groupPass[j][g] < 0 { jobs[j].listed += members.count }
        let pass = jobs[j].pass
        let newVisit = groupPass[j][g] != pass
        if newVisit {
            if groupPass[j][g] >= 0 {
                let span = groupLast[j][g] - groupFirst[j][g]
                groupSpan[g] = groupSpan[g] < 0 ? span : groupSpan[g] + 0.3 * (span - groupSpan[g])
            }
            groupPass[j][g] = pass
            groupFirst[j][g] = now
        }
        groupLast[j][g] = now
        if !groupListed[g] {
            // First sight of a directory or file: its listing makes its members candidates.
            groupListed[g] = true
            listed += members.count
            for m in members where m < flags.count && flags[m] & Self.known == 0 {
                flags[m] |= Self.known
                setKey(m, score(m))
            }
        }
        let passTicks = jobs[j].lastPassDuration
        if newVisit, groupSpan[g] >= 0, passTicks > 0, groupSpan[g] < 0.25 * passTicks,
           keys.items[members[0]].ordinal == nil {
            // The job reads this group in a burst and has just started it again.
            let soon = now + max(groupSpan[g] / 2, 1)
            for m in members where m < flags.count && passOf[j][m] != pass && predicted[m] > soon {
                setKey(m, soon)
            }
        }
    }

    private func followStream(job j: Int, group g: Int, ordinal n: Int) {
        var job = jobs[j]
        if job.streamGroup == g && n == job.streamOrdinal + 1 {
            job.depth = job.depth == 0 ? 2 : min(configuration.maxReadahead, 2 * job.depth)
        } else {
            job.depth = 0
            job.frontier = n
        }
        job.streamGroup = g
        job.streamOrdinal = n
        if job.depth > 0 {
            let from = max(job.frontier, n) + 1, to = n + job.depth
            if from <= to {
                for k in from...to {
                    guard let b = keys.block(group: g, ordinal: k) else { break }
                    ensure(item: b)
                    flags[b] |= Self.known
                    snapAt[b] = -1  // the stream, not the model, made this prediction
                    setKey(b, now + Double(k - n) * max(job.gap, 1))
                }
                job.frontier = to
            }
        }
        jobs[j] = job
    }

    /// Readahead depth of `job`'s current stream (0 when it is not reading sequentially).
    public func readaheadDepth(job: Int) -> Int { job < jobs.count ? jobs[job].depth : 0 }

    // MARK: Bookkeeping

    private func setKey(_ i: Int, _ key: Double) {
        predicted[i] = key
        if flags[i] & Self.cached != 0 {
            cachedItems.set(i, key: key)
        } else if configuration.prefetch, key.isFinite, flags[i] & Self.known != 0 {
            candidates.set(i, key: key)
        } else {
            candidates.remove(i)
        }
    }

    private func refreshOverdue() {
        var budget = configuration.rescoreBudget
        while budget > 0, let e = cachedItems.min(), e.key < now {
            rescore(Int(e.item))
            budget -= 1
        }
    }

    private func ensure(item: Int) {
        guard item >= flags.count else { return }
        let n = max(item + 1, keys.count, 2 * flags.count)
        func grow<T>(_ a: inout [T], _ fill: T) { a.append(contentsOf: repeatElement(fill, count: n - a.count)) }
        grow(&lastRead, -1); grow(&lastInterval, -1); grow(&freq, 0); grow(&freqAt, 0)
        grow(&predicted, .infinity); grow(&scoredAt, -1); grow(&snap, .zero); grow(&snapAt, -1)
        grow(&snapMu, 0); grow(&writeTick, 0); grow(&flags, 0)
        for j in passOf.indices { grow(&passOf[j], -1) }
    }

    private func ensure(job: Int) {
        while jobs.count <= job {
            jobs.append(Job())
            passOf.append([Int32](repeating: -1, count: flags.count))
            groupPass.append([Int32](repeating: -1, count: groupSpan.count))
            groupFirst.append([Double](repeating: 0, count: groupSpan.count))
            groupLast.append([Double](repeating: 0, count: groupSpan.count))
        }
    }

    private func ensure(group: Int) {
        guard group >= groupSpan.count else { return }
        let n = max(group + 1, keys.groupNames.count)
        groupSpan.append(contentsOf: repeatElement(-1, count: n - groupSpan.count))
        groupListed.append(contentsOf: repeatElement(false, count: n - groupListed.count))
        for j in jobs.indices {
            groupPass[j].append(contentsOf: repeatElement(-1, count: n - groupPass[j].count))
            groupFirst[j].append(contentsOf: repeatElement(0, count: n - groupFirst[j].count))
            groupLast[j].append(contentsOf: repeatElement(0, count: n - groupLast[j].count))
        }
    }
}
