#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The policy for clients that give no hints: it learns online, from the accesses alone (plus
/// the `KeyTable`'s listing of which keys exist, as a client knows a directory after readdir),
/// when each item will next be read, and runs an approximate Belady on those predictions.
///
/// Every item gets ONE predicted next-read time, from a small model trained online on the
/// delays actually observed. Three experts each propose a delay:
/// - epoch: per job, passes over the data (a pass ends when the job re-reads an item of the
///   current pass); an item read in the current pass is next read around the middle of the next
///   pass, one not yet read somewhere in the rest of this one. Jobs combine as competing rates
///   (a shared item is read by whichever job comes first). It abstains for a job whose passes do
///   not cover half of what the job can see: sampling with replacement is not epochs.
/// - frequency: a decayed read count (half-life about one pass) read as a rate over the
///   item's observed window, calibrated per count bucket (a key read once is colder than it looks).
/// - reuse: the item's last reuse interval.
/// The model is a sleeping-experts Hedge: at a read, the experts that had an opinion when the
/// item was last scored lose weight by exp(−η · (log predicted − log actual delay)²); the leader
/// (the heaviest, switched only when another is 4× heavier) gives the prediction. So it adapts
/// when the pattern changes — a new job, drifted weights — at O(1) per read.
/// Two gated specialists override it where they know better: sequential streams (`name#N`
/// blocks read in order get readahead that doubles 2, 4, 8 … up to `maxReadahead` and resets
/// when the stream breaks) and groups a job reads in a burst (when it starts one again, its
/// unread members are predicted within the burst). Items first seen by a write are predicted
/// never to be read, until a tenth of written items are seen read.
///
/// Decisions rank items by their predicted delay weighed by √(size / mean size read) (hits are
/// counted per item, and a small item costs less space and bandwidth per hit): the victim is the
/// cached item ranked farthest away; when full, a newcomer is admitted only if ranked before that
/// victim; `prefetchCandidates` returns uncached known items ranked soonest and clearly before
/// the victim (`prefetchMargin`), so a prefetch never evicts something ranked before it. Keys
/// live in two heaps with lazy deletion; because predictions drift as time passes, a sweep
/// re-scores `rescoreBudget` cached items per read and stale candidates are re-scored before
/// they are proposed.
///
/// Time is the count of reads the policy has seen, not the owner's clock, so stalls and link
/// speed do not distort what it learns. Cost: O(jobs + log n) per call, amortised; the only
/// larger steps are the once-per-group listing and burst expansions.
public final class LearnedPolicy: CachePolicy {
    /// Knobs; the defaults are what the standard set was tuned with.
    public struct Configuration: Sendable {
        /// Whether `prefetchCandidates` proposes anything ("learned-noprefetch" turns it off).
        public var prefetch: Bool
        /// The time scale, in reads: about one pass. Nil means the number of listed items. It is
        /// the frequency half-life; staleness is measured in 64ths of it.
        public var halfLife: Double?
        public var maxReadahead: Int
        /// Hedge step size η.
        public var learningRate: Double
        /// Cached items re-scored per read by the refresh sweep; also bounds the re-scoring done
        /// per `victim` (half, at least one) and per `prefetchCandidates` (plus half the limit).
        public var rescoreBudget: Int
        /// A candidate must be predicted within this fraction of the victim's distance.
        public var prefetchMargin: Double

        public init(prefetch: Bool = true, halfLife: Double? = nil, maxReadahead: Int = 32,
                    learningRate: Double = 0.002, rescoreBudget: Int = 2, prefetchMargin: Double = 0.6) {
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

    /// Hedge weights of the experts: epoch, frequency, reuse (the fourth lane is unused).
    public private(set) var weights: SIMD4<Double> = [0.6, 0.2, 0.2, 0]
    /// Running mean squared log error of each expert (epoch, frequency, reuse) when awake.
    public private(set) var expertLoss = SIMD4<Double>(repeating: 0)
    /// Learned log bias of the frequency expert per count bucket (0, 1, 2–3, 4–7, 8+ reads).
    private var frequencyBias = [Double](repeating: 0, count: 5)
    /// The expert whose guess is used (0 epoch, 1 frequency, 2 reuse) while it has an opinion.
    public private(set) var leader = 0
    /// Delays observed and learned from.
    public private(set) var trainingExamples = 0
    /// Running mean of |log(predicted delay / actual delay)| over training examples.
    public private(set) var meanAbsLogError = 0.0

    private var now = 0.0
    /// Mean size of the items read (per read), the unit `rank` scales delays by.
    private var meanSize = 1.0

    // Per item.
    private var lastRead: [Double] = []
    private var lastInterval: [Double] = []
    private var freq: [Double] = []
    private var freqAt: [Double] = []
    private var firstRead: [Double] = []
    private var predicted: [Double] = []
    /// The heap key: the predicted delay (from when it was made) scaled by the item's size
    /// relative to the mean size read (see `setKey`).
    private var rank: [Double] = []
    private var scoredAt: [Double] = []
    /// Each expert's log-delay prediction at the last scoring (NaN where it abstained).
    private var snap: [SIMD4<Double>] = []
    private var snapBucket: [UInt8] = []
    private var snapAt: [Double] = []
    private var writeTick: [Double] = []
    private var flags: [UInt8] = []
    private static let known: UInt8 = 1, cached: UInt8 = 2, everRead: UInt8 = 4, written: UInt8 = 8
    /// The key came from a specialist (stream, burst) and stands until it falls due.
    private static let specialist: UInt8 = 16
    /// Alternates per read: whether this read's prediction is the one to learn from.
    private static let learnAtRead: UInt8 = 32

    private var cachedItems = ItemHeap()
    private var candidates = ItemHeap()
    /// Cached items in no order, for the refresh sweep (with each item's index in it).
    private var cachedList: [Int32] = []
    /// Heap entries taken out by the last `prefetchCandidates` and returned to the owner.
    private var handedOut: [ItemHeap.Entry] = []
    private var cachedIndex: [Int32] = []
    private var sweepHand = 0
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
    private var groupVisitReads: [[Int32]] = []
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
            learn(snap[i], bucket: Int(snapBucket[i]), target: log(max(now - snapAt[i], 0.5)))
            snapAt[i] = -1
        }
        if flags[i] & Self.written != 0, flags[i] & Self.everRead == 0 {
            writtenThenRead += 1
            writeToReadLog += (log(max(now - writeTick[i], 1)) - writeToReadLog) / Double(writtenThenRead)
        }
        flags[i] |= Self.everRead | Self.known
        meanSize += (Double(max(keys.items[i].size, 1)) - meanSize) / now

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

        let h = frequencyHalfLife
        freq[i] = freq[i] * exp2(-(now - freqAt[i]) / h) + 1
        freqAt[i] = now
        if lastRead[i] >= 0 { lastInterval[i] = now - lastRead[i] } else { firstRead[i] = now }
        lastRead[i] = now

        let item = keys.items[i]
        touch(group: item.group, job: j)
        flags[i] &= ~Self.specialist
        flags[i] ^= Self.learnAtRead
        setKey(i, score(i, remember: flags[i] & Self.learnAtRead != 0))
        if let ordinal = item.ordinal { followStream(job: j, group: item.group, ordinal: ordinal) }
        refreshCached()
    }

    public func admit(_ item: Int, size: Int, reason: AdmitReason, full: Bool) -> Bool {
        ensure(item: item)
        let key = rank[item]
        guard key.isFinite else { return false }  // predicted never to be read: not worth any space
        guard full, let top = cachedItems.max() else { return true }
        // A prefetch is speculative: it must beat the victim clearly, or equivalent items churn.
        let bound = reason == .prefetch ? now + configuration.prefetchMargin * (top.key - now) : top.key
        guard key < bound else { return false }
        pendingKey = key
        return true
    }

    public func victim() -> Int? {
        guard let key = freshVictimKey(), let top = cachedItems.max() else { return nil }
        if let p = pendingKey, key <= p { return nil }
        return Int(top.item)
    }

    /// Key of the cached item predicted farthest away, re-scoring a few stale ones at the top first.
    private func freshVictimKey() -> Double? {
        var budget = max(1, configuration.rescoreBudget / 2)
        while budget > 0, let top = cachedItems.max(), isStale(Int(top.item)) {
            rescore(Int(top.item))
            budget -= 1
        }
        return cachedItems.max()?.key
    }

    public func inserted(_ item: Int, size: Int, reason: AdmitReason) {
        ensure(item: item)
        pendingKey = nil
        guard flags[item] & Self.cached == 0 else { return }
        flags[item] |= Self.cached
        cachedIndex[item] = Int32(cachedList.count)
        cachedList.append(Int32(item))
        candidates.remove(item)
        cachedItems.set(item, key: rank[item])
    }

    public func removed(_ item: Int) {
        guard item < flags.count, flags[item] & Self.cached != 0 else { return }
        flags[item] &= ~Self.cached
        let at = Int(cachedIndex[item])
        if let last = cachedList.popLast(), at < cachedList.count {
            cachedList[at] = last
            cachedIndex[Int(last)] = Int32(at)
        }
        cachedItems.remove(item)
        // The rank stands as made: re-weighing the prediction now would scale a shorter delay.
        if configuration.prefetch, rank[item].isFinite, flags[item] & Self.known != 0 {
            candidates.set(item, key: rank[item])
        }
    }

    public func prefetchCandidates(limit: Int) -> [Int] {
        guard configuration.prefetch, limit > 0 else { return [] }
        let victimKey = freshVictimKey() ?? .infinity
        let bound = victimKey.isFinite ? now + configuration.prefetchMargin * (victimKey - now) : .infinity
        // Candidates handed out last time and not fetched go back into the heap now (most were
        // fetched, so putting every one back at once would mostly be wasted work).
        for e in handedOut where flags[Int(e.item)] & Self.cached == 0 { candidates.restore(e) }
        handedOut.removeAll(keepingCapacity: true)
        var out: [Int] = []
        var taken: [ItemHeap.Entry] = []
        var budget = limit / 2 + configuration.rescoreBudget
        while out.count < limit, let e = candidates.takeMin() {
            let i = Int(e.item)
            if isStale(i, tolerance: 8) {
                // A stale guess is weak evidence; look again before spending bandwidth on it. (A
                // candidate must beat the victim by a wide margin, so it may be staler than the
                // cached items whose order decides evictions.)
                guard budget > 0 else {
                    taken.append(e)
                    break
                }
                budget -= 1
                rescore(i)  // pushes a fresh entry; the taken one is now stale
                if rank[i] < bound, !out.contains(i) { out.append(i) }
                continue
            }
            guard e.key < bound else {
                taken.append(e)
                break
            }
            if !out.contains(i) {
                out.append(i)
                handedOut.append(e)
            }
        }
        for e in taken { candidates.restore(e) }
        return out
    }

    // MARK: Model

    private var halfLife: Double { configuration.halfLife ?? max(1024, Double(listed)) }
    /// Counts decay over about a pass. (Two passes make the frequency expert steadier on skewed
    /// sampling, but then on epochs it rivals the epoch expert on the delays it is judged on, and
    /// leadership changes scramble the cache; one pass measured better overall.)
    private var frequencyHalfLife: Double { halfLife }

    /// One observed delay: calibrate, then a sleeping-experts Hedge step. The frequency expert's
    /// log bias is learned per count bucket, slowly, so it averages over a pass rather than
    /// chasing which delays happen to complete first (early in a pass only the short ones have).
    /// The experts that had an opinion lose weight by exp(−η · squared log error), keeping their
    /// total; a small fixed share of weight is spread evenly, so an expert that was wrong for a
    /// while can win again when the pattern changes.
    private func learn(_ raw: SIMD4<Double>, bucket: Int, target: Double) {
        let awake = raw .== raw  // false for NaN
        guard awake != SIMDMask(repeating: false) else { return }
        var guesses = raw
        if awake[1] {
            guesses[1] -= frequencyBias[bucket]
            frequencyBias[bucket] += 0.0003 * (raw[1] - target - frequencyBias[bucket])
        }
        let error = (guesses - target).replacing(with: 0, where: .!awake)
        let loss = (error * error).clamped(lowerBound: .zero, upperBound: SIMD4(repeating: 16))
        var updated = weights
        for k in 0..<3 where awake[k] {
            updated[k] *= exp(-configuration.learningRate * loss[k])
            expertLoss[k] += (loss[k] - expertLoss[k]) * 0.01
        }
        let before = weights.replacing(with: 0, where: .!awake).sum()
        let after = updated.replacing(with: 0, where: .!awake).sum()
        if after > 0 {
            for k in 0..<3 where awake[k] { updated[k] *= before / after }
        }
        weights = updated
        if (awake[0] ? 1 : 0) + (awake[1] ? 1 : 0) + (awake[2] ? 1 : 0) > 1 {
            // Only where experts competed: a lone expert's lead was not lost, so nothing to share.
            weights = 0.9999 * weights + SIMD4(1, 1, 1, 0) * (0.0001 / 3)
        }
        // The leader changes only when clearly beaten: a key computed by one expert is not
        // comparable with keys computed by another, so flapping between near-equals would
        // scramble the cache's order.
        for k in 0..<3 where k != leader && weights[k] > 4 * weights[leader] { leader = k }
        trainingExamples += 1
        if let mixed = lead(guesses) { meanAbsLogError += (abs(mixed - target) - meanAbsLogError) * 0.001 }
    }

    /// The leader's guess, or if it abstains the guess of the heaviest awake expert; nil if all
    /// abstain. Following the leader rather than averaging keeps a prediction one expert's time
    /// estimate: averaging the epoch expert (which knows an unread item comes this pass) with the
    /// frequency expert (which does not) blurs exactly the distinction the cache lives on.
    private func lead(_ guesses: SIMD4<Double>) -> Double? {
        if guesses[leader] == guesses[leader] { return guesses[leader] }
        var best: Int?
        for k in 0..<3 where guesses[k] == guesses[k] && weights[k] > (best.map { weights[$0] } ?? -1) { best = k }
        return best.map { guesses[$0] }
    }

    /// Predicted absolute read time of `i`. With `remember`, keeps the experts' guesses to learn
    /// from when the item is next read. Every other read is remembered; after the others, the
    /// first re-scoring is (decisions are mostly about items some time after their read, so the
    /// model must be judged there too). Only the first prediction after a read may be kept: the
    /// last one before the next read would be chosen by that read, and the intervals it saw
    /// would be cut short by the sweep (the inspection paradox).
    private func score(_ i: Int, remember: Bool) -> Double {
        let f = frequencyEstimate(i)
        let raw = SIMD4(epochDelay(i).map { log($0) } ?? .nan, f.map { log($0.delay) } ?? .nan,
                        lastInterval[i] > 0 ? log(lastInterval[i]) : .nan, .nan)
        let bucket = f?.bucket ?? 0
        if remember {
            snap[i] = raw
            snapBucket[i] = UInt8(bucket)
            snapAt[i] = now
        }
        // The epoch expert's mean estimate is used as it is: a key must stay a time estimate for
        // keys made at different moments to compare.
        var guesses = raw
        guesses[1] -= frequencyBias[bucket]
        scoredAt[i] = now
        let maxLog = log(64 * halfLife)
        guard let m = lead(guesses) else { return now + exp(maxLog) }
        return now + exp(min(maxLog, max(0, m)))
    }

    /// Predicts afresh from now.
    private func rescore(_ i: Int) {
        flags[i] &= ~Self.specialist
        setKey(i, flags[i] & Self.everRead == 0 && flags[i] & Self.written != 0 ? writeKey() : score(i, remember: snapAt[i] < 0))
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

    /// Frequency expert: the read rate as reads per unit of decayed observation window since the
    /// item's first read (which starts the window, so it is not counted), with a weak prior (an
    /// eighth of a read per 1/32 half-life) so one read is not an infinite rate; an item that
    /// turned hot recently is rated on its short history rather than diluted over a half-life.
    private func frequencyEstimate(_ i: Int) -> (delay: Double, bucket: Int)? {
        guard freq[i] > 0 else { return nil }
        let h = frequencyHalfLife
        let count = max(0, freq[i] * exp2(-(now - freqAt[i]) / h) - exp2(-(now - firstRead[i]) / h))
        let window = h / M_LN2 * (1 - exp2(-(now - firstRead[i]) / h))
        let bucket = count < 0.5 ? 0 : count < 1.5 ? 1 : count < 3.5 ? 2 : count < 7.5 ? 3 : 4
        return ((window + h / 32) / (count + 0.125), bucket)
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
                // The previous visit was a burst only if it read most of the group.
                if 2 * Int(groupVisitReads[j][g]) >= members.count {
                    let span = groupLast[j][g] - groupFirst[j][g]
                    groupSpan[g] = groupSpan[g] < 0 ? span : groupSpan[g] + 0.3 * (span - groupSpan[g])
                } else {
                    groupSpan[g] = -1
                }
            }
            groupPass[j][g] = pass
            groupFirst[j][g] = now
            groupVisitReads[j][g] = 0
        }
        groupLast[j][g] = now
        groupVisitReads[j][g] += 1
        if !groupListed[g] {
            // First sight of a directory or file: its listing makes its members candidates.
            groupListed[g] = true
            listed += members.count
            for m in members where m < flags.count && flags[m] & Self.known == 0 {
                flags[m] |= Self.known
                setKey(m, score(m, remember: true))
            }
        }
        let passTicks = jobs[j].lastPassDuration
        let epochLike = 2 * jobs[j].lastPassLength >= jobs[j].listed
        if newVisit, epochLike, groupSpan[g] >= 0, passTicks > 0, groupSpan[g] < 0.25 * passTicks,
           keys.items[members[0]].ordinal == nil {
            // The job reads this group in a burst and has just started it again.
            let soon = now + max(groupSpan[g] / 2, 1)
            for m in members where m < flags.count && passOf[j][m] != pass && predicted[m] > soon {
                flags[m] |= Self.specialist
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
                    flags[b] |= Self.specialist
                    setKey(b, now + Double(k - n) * max(job.gap, 1))
                }
                job.frontier = to
            }
        }
        jobs[j] = job
    }

    /// The predicted read time of `item`, in reads seen (`clock`); infinity for "never", nil if unknown.
    public func predictedNextRead(_ item: Int) -> Double? {
        item < flags.count && flags[item] & Self.known != 0 ? predicted[item] : nil
    }

    /// Reads seen so far: the policy's clock.
    public var clock: Double { now }

    /// Readahead depth of `job`'s current stream (0 when it is not reading sequentially).
    public func readaheadDepth(job: Int) -> Int { job < jobs.count ? jobs[job].depth : 0 }

    // MARK: Bookkeeping

    private func setKey(_ i: Int, _ key: Double) {
        predicted[i] = key
        // Hits are counted per item, so a small item buys a hit with less space and bandwidth:
        // the delay is weighed by √(size / mean size). (Weighing by size itself, the hit rate per
        // byte, measured better on shared epochs but worse on uniform and checkpoint at 50 %: the
        // delays are estimates, and it trusts them too much against size; √ did better everywhere.)
        let scaled = key.isFinite ? now + max(key - now, 0) * (Double(max(keys.items[i].size, 1)) / meanSize).squareRoot() : key
        rank[i] = scaled
        if flags[i] & Self.cached != 0 {
            cachedItems.set(i, key: scaled)
        } else if configuration.prefetch, key.isFinite, flags[i] & Self.known != 0 {
            candidates.set(i, key: scaled)
        } else {
            candidates.remove(i)
        }
    }

    /// Predictions drift as time passes without a read (the rest of a pass shrinks, counts
    /// decay), and keys computed at different times stop being comparable. Re-scoring every
    /// cached item round-robin keeps the heap's order close to the order the model would give
    /// now. (Looking for overdue keys at the heap's low end instead costs a pop per stale entry.)
    private func refreshCached() {
        for _ in 0..<min(configuration.rescoreBudget, cachedList.count) {
            if sweepHand >= cachedList.count { sweepHand = 0 }
            let i = Int(cachedList[sweepHand])
            sweepHand += 1
            if isStale(i) { rescore(i) }
        }
    }

    /// Whether `i`'s key is old enough to be worth recomputing: older than `tolerance` × 1/64 of a
    /// half-life (about a pass), or a specialist's prediction that has fallen due.
    private func isStale(_ i: Int, tolerance: Double = 1) -> Bool {
        if flags[i] & Self.specialist != 0 { return predicted[i] < now }
        return now - scoredAt[i] > max(8, tolerance * halfLife / 64)
    }

    private func ensure(item: Int) {
        guard item >= flags.count else { return }
        let n = max(item + 1, keys.count, 2 * flags.count)
        func grow<T>(_ a: inout [T], _ fill: T) { a.append(contentsOf: repeatElement(fill, count: n - a.count)) }
        grow(&lastRead, -1); grow(&lastInterval, -1); grow(&freq, 0); grow(&freqAt, 0); grow(&firstRead, 0)
        grow(&predicted, .infinity); grow(&rank, .infinity); grow(&scoredAt, -1); grow(&snap, .zero); grow(&snapAt, -1); grow(&snapBucket, 0)
        grow(&writeTick, 0); grow(&cachedIndex, -1); grow(&flags, 0)
        for j in passOf.indices { grow(&passOf[j], -1) }
    }

    private func ensure(job: Int) {
        while jobs.count <= job {
            jobs.append(Job())
            passOf.append([Int32](repeating: -1, count: flags.count))
            groupPass.append([Int32](repeating: -1, count: groupSpan.count))
            groupFirst.append([Double](repeating: 0, count: groupSpan.count))
            groupLast.append([Double](repeating: 0, count: groupSpan.count))
            groupVisitReads.append([Int32](repeating: 0, count: groupSpan.count))
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
            groupVisitReads[j].append(contentsOf: repeatElement(0, count: n - groupVisitReads[j].count))
        }
    }
}
